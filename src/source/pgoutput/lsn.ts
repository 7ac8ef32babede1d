// LSN helpers belong to the event model (an event's source position): src/event/lsn.ts.
export { formatLsn, parseLsn } from '../../event/lsn.js';
