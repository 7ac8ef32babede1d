// The replication connection: START_REPLICATION with pgoutput in binary mode, every message
// parsed by vecrelay's own parser, and every status update sent by vecrelay itself.
//
// pg-logical-replication 2.5.0 is used for the connection only; it has traps that lose data:
// - its timer acknowledges the last *received* LSN (even with acknowledge.auto: false), moving
//   confirmed_flush_lsn past changes Kafka never stored: disabled (timeoutSeconds: 0, auto: false),
//   every status update is ours;
// - its acknowledge(lsn) reports lsn + 1, while the server must receive exactly the stored
//   transaction's commit end LSN (as PostgreSQL's own subscriber reports it; a transaction that
//   commits later can start its commit record right there, test/source/ack-position.test.ts):
//   we pass lsn - 1 so the server receives exactly lsn;
// - its PgoutputPlugin sends no `binary` option: subclassed here;
// - after any error the service is not reused: a new ReplicationStream resumes from the slot.
import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { PgoutputParser, formatLsn, parseLsn, type PgoutputMessage } from '../pgoutput/index.js';
import { quoteIdent, type PgConfig } from './connect.js';

/** Returned by the plugin instead of throwing inside the connection's event handler. */
export interface ParseFailure {
  tag: 'parse-failure';
  error: Error;
}

class VecrelayPgoutputPlugin extends PgoutputPlugin {
  // Row messages are copied out of the connection's read buffer: pg-protocol may move bytes
  // within that buffer when the next chunk arrives, and flow control parses before it processes.
  private readonly ownParser = new PgoutputParser({ copy: true });
  /** XLogData messages received so far (parse runs on receipt, in stream order). */
  received = 0;

  constructor(
    private readonly publication: string,
    private readonly binary: boolean,
  ) {
    super({ protoVersion: 1, publicationNames: [publication], messages: true });
  }

  // The base class declares its own message type; ours reaches the 'data' handler below.
  override parse(buffer: Buffer): ReturnType<PgoutputPlugin['parse']> {
    let out: PgoutputMessage | ParseFailure;
    this.received++;
    try {
      out = this.ownParser.parse(buffer);
    } catch (error) {
      out = { tag: 'parse-failure', error: error as Error };
    }
    return out as unknown as ReturnType<PgoutputPlugin['parse']>;
  }

  override start(client: pg.Client, slotName: string, lastLsn: string) {
    const pubLiteral = `'${this.publication.replaceAll("'", "''")}'`;
    const options = [
      `proto_version '1'`,
      `publication_names ${pubLiteral}`,
      `binary '${this.binary}'`,
      `messages 'true'`,
    ];
    return client.query(
      `START_REPLICATION SLOT ${quoteIdent(slotName)} LOGICAL ${lastLsn} (${options.join(', ')})`,
    );
  }
}

export interface StreamHandlers {
  /**
   * Awaited before the next message is read: backpressure reaches the socket. (No position: the
   * messages that need one carry it — Begin, Commit, Message — and parsing the library's LSN text
   * of every message cost ~4 % of the source's CPU.)
   */
  onMessage(msg: PgoutputMessage): Promise<void> | void;
  /**
   * A primary keepalive: the position the server has sent up to, and whether it wants an answer
   * now. `caughtUp`: every message received before it has been handled — only then does walEnd
   * say nothing unseen lies below it. pg-logical-replication emits keepalives the moment they
   * arrive, while the data messages before them may still wait in its flow-control queue.
   */
  onKeepalive(walEnd: bigint, shouldRespond: boolean, caughtUp: boolean): void;
  onError(err: Error): void;
}

export const POSTGRES_ORIGIN = Symbol.for('vecrelay.postgres-origin');

/** Marks an error as the replication connection's (outage.ts reads the mark). */
export function fromPostgres<E extends Error>(err: E): E {
  if (err !== null && typeof err === 'object' && Object.isExtensible(err))
    Object.defineProperty(err, POSTGRES_ORIGIN, { value: true });
  return err;
}

export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  private stopped = false;

  constructor(
    private readonly pgConfig: PgConfig,
    private readonly slot: string,
    private readonly publication: string,
    private readonly options: { binary: boolean } = { binary: true },
  ) {
    this.service = new LogicalReplicationService(
      { ...pgConfig, replication: 'database' } as pg.ClientConfig,
      {
        acknowledge: { auto: false, timeoutSeconds: 0 },
        flowControl: { enabled: true },
      },
    );
  }

  /**
   * Streams from the slot's confirmed position until stop() or an error. Resolves when the
   * stream ends; every error goes to handlers.onError (once) and ends the stream.
   */
  async run(handlers: StreamHandlers): Promise<void> {
    let failed = false;
    const fail = (err: Error) => {
      if (failed || this.stopped) return;
      failed = true;
      handlers.onError(err);
    };
    const plugin = new VecrelayPgoutputPlugin(this.publication, this.options.binary);
    let handled = 0;
    this.service.on('data', async (_lsn: string, msg: PgoutputMessage | ParseFailure) => {
      if (failed || this.stopped) return;
      if (msg.tag === 'parse-failure') return fail(msg.error);
      try {
        await handlers.onMessage(msg);
        handled++;
      } catch (err) {
        fail(err as Error);
      }
    });
    this.service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) => {
      if (!failed && !this.stopped)
        handlers.onKeepalive(parseLsn(lsn), shouldRespond, handled === plugin.received);
    });
    // The replication connection's own failures (a reset socket carries no hint of its server)
    // are marked as PostgreSQL's, so the outage log can name the system that went away.
    this.service.on('error', (err: Error) => fail(fromPostgres(err)));
    try {
      // No LSN: a new service starts from the slot's confirmed_flush_lsn.
      await this.service.subscribe(plugin, this.slot);
      if (!this.stopped) fail(new Error('the replication stream ended'));
    } catch (err) {
      fail(fromPostgres(err as Error));
    }
  }

  /** Reports `lsn` as written, flushed and applied: exactly this value reaches the server. */
  async confirm(lsn: bigint): Promise<void> {
    if (this.stopped || lsn <= 0n) return;
    await this.service.acknowledge(formatLsn(lsn - 1n));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // stop(), not destroy(): destroy() also removes our 'error' listener, and the service emits
    // 'error' (an EventEmitter2: thrown when nobody listens) from a subscribe() still connecting.
    await this.service.stop().catch(() => {});
  }
}
