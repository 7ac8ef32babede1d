// A row the source cannot turn into an event (a value its decoders reject, a key that is null)
// goes to the pipeline's dead-letter topic instead of stopping the stream (DESIGN.md guarantee
// 7): JSON with the table, position, reason and every cell as it arrived.
import type { OutMessage } from '../kafka/publisher.js';
import { formatLsn, type Cell } from './pgoutput/index.js';

export interface RowOrigin {
  table: string;
  op: string;
  lsn: bigint;
  xid: number;
  columns: string[];
  cells: Cell[];
}

export function rowDeadLetter(topic: string, origin: RowOrigin, err: Error): OutMessage {
  const value = JSON.stringify({
    from: 'source',
    table: origin.table,
    op: origin.op,
    lsn: formatLsn(origin.lsn),
    xid: origin.xid,
    error: err.message,
    cells: origin.cells.map((cell, i) => ({
      column: origin.columns[i],
      kind: cell.kind,
      ...(cell.kind === 'binary'
        ? { hex: cell.bytes.toString('hex') }
        : cell.kind === 'text'
          ? { text: cell.text }
          : {}),
    })),
  });
  return { topic, key: Buffer.from(origin.table), value: Buffer.from(value), partition: 0 };
}
