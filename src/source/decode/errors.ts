// Decode failures. A cell that cannot be decoded is a bad record, not a transient fault: retrying
// reads the same bytes again, so these are never retriable.

export class DecodeError extends Error {
  readonly retriable = false;

  constructor(
    readonly column: string,
    readonly typeName: string,
    readonly problem: string,
    options?: ErrorOptions & { table?: string },
  ) {
    const where = options?.table ? `${options.table}.${column}` : column;
    super(`cannot decode column "${where}" of type ${typeName}: ${problem}`, options);
    this.name = 'DecodeError';
  }
}

/**
 * A binary cell of a type vecrelay has no decoder for. pgoutput with `binary 'true'` sends every
 * type that has a send function in binary, so such a column cannot be read in this mode: the
 * caller should fall back (stop and name the column, or stream the table with `binary 'false'`,
 * where an unknown type decodes to its text).
 */
export class UnsupportedTypeError extends DecodeError {
  constructor(column: string, typeName: string, options?: ErrorOptions & { table?: string }) {
    super(column, typeName, 'no binary decoder for this type (text mode decodes it as a string)', options);
    this.name = 'UnsupportedTypeError';
  }
}
