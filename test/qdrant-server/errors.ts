// Errors with the HTTP status and message text Qdrant 1.19 answers (src/actix/helpers.rs,
// src/actix/mod.rs validation_error_handler, lib/storage errors.rs).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Body that does not deserialise: malformed JSON, wrong types, bad point ids. */
export function formatError(detail: string): ApiError {
  return new ApiError(400, `Format error in JSON body: ${detail}`);
}

/** Body that deserialises but fails a `validate` rule (actix_web_validator → 422). */
export function validationError(fields: Array<[string, string]>): ApiError {
  const list = fields.map(([field, msg]) => `${field}: ${msg}`).join('; ');
  return new ApiError(422, `Validation error in JSON body: [${list}]`);
}

/** StorageError::BadInput. */
export function wrongInput(description: string): ApiError {
  return new ApiError(400, `Wrong input: ${description}`);
}

/** StorageError::BadRequest. */
export function badRequest(description: string): ApiError {
  return new ApiError(400, `Bad request: ${description}`);
}

export function notFound(description: string): ApiError {
  return new ApiError(404, `Not found: ${description}`);
}

export function collectionNotFound(name: string): ApiError {
  return notFound(`Collection \`${name}\` doesn't exist!`);
}

/**
 * An error Qdrant only detects while applying an operation from its WAL. With wait=false the
 * request has already been acknowledged by then, so the client never sees it.
 */
export class ApplyError extends ApiError {}

export function pointNotFound(id: string): ApplyError {
  return new ApplyError(404, `Not found: No point with id ${id} found`);
}

export function applyWrongInput(description: string): ApplyError {
  return new ApplyError(400, `Wrong input: ${description}`);
}
