// A throwaway Kafka broker (KRaft, one JVM) for tests that stall or stop Kafka, which the shared
// stack's broker must not do to the tests running beside them. Same jars and settings as
// scripts/stack/up.sh, in a temp dir on free ports; `pause()` / `resume()` freeze and thaw the
// JVM (SIGSTOP / SIGCONT: connections stay open and nothing answers, like a broker stuck in GC or
// behind a dead network), `kill()` / `start()` SIGKILL it and start it again on the same ports and
// data (a broker crash), `stop()` kills it and removes the dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './free-port.js';
import { repoRoot, stackDir, waitFor } from './stack.js';

const run = promisify(execFile);

export interface ScratchKafka {
  brokers: string[];
  /** The address of each extra listener (options.listeners), by name. */
  listeners: Record<string, string[]>;
  pause(): void;
  resume(): void;
  /** SIGKILL: the broker dies with its connections (acknowledged records are on disk). */
  kill(): Promise<void>;
  /** Starts the killed broker again (same ports, same data); resolves once it answers. */
  start(): Promise<void>;
  /** The broker's log so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A listener besides PLAINTEXT (SSL, SASL_SSL...), each on a free port of its own. */
export interface ExtraListener {
  /** Listener name, e.g. SSL. */
  name: string;
  /** Its security protocol: SSL, SASL_SSL, SASL_PLAINTEXT. */
  protocol: string;
}

export interface ScratchKafkaOptions {
  listeners?: ExtraListener[];
  /** More lines for server.properties (the listeners' ssl.* settings, say). */
  properties?: string[];
}

export async function startScratchKafka(options: ScratchKafkaOptions = {}): Promise<ScratchKafka> {
  const classpath = readFileSync(path.join(stackDir, 'kafka-classpath.txt'), 'utf8').trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'vecrelay-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const extra: Array<ExtraListener & { address: string }> = [];
  for (const l of options.listeners ?? []) extra.push({ ...l, address: `127.0.0.1:${await freePort()}` });
  const extraListeners = extra.map((l) => `,${l.name}://${l.address}`).join('');
  const properties = path.join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${extraListeners}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${extraListeners}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${extra.map((l) => `,${l.name}:${l.protocol}`).join('')}`,
      `log.dirs=${path.join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      'num.network.threads=1',
      'num.io.threads=1',
      ...(options.properties ?? []),
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'server.log');
  const log4j = `-Dlog4j.configuration=file:${path.join(repoRoot, 'scripts/stack/kafka/log4j.properties')}`;
  // A cluster id is a UUID in URL-safe base64 without padding (Kafka's Uuid#toString). One that
  // starts with '-' reads as an option to the storage tool ("-t: expected one argument"), which
  // is why Kafka's own Uuid.randomUuid() draws again in that case: so do we.
  let clusterId: string;
  do clusterId = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  while (clusterId.startsWith('-'));
  await run('java', [
    '-cp',
    classpath,
    log4j,
    `-Dkafka.log.file=${path.join(dir, 'storage-tool.log')}`,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    properties,
  ]);
  const brokers = [`127.0.0.1:${port}`];
  const readLog = () => {
    try {
      return readFileSync(logFile, 'utf8').slice(-4000);
    } catch {
      return '(no log yet)';
    }
  };
  let child: ChildProcess | undefined;
  const kill = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
  };
  const launch = async () => {
    // A small JVM that starts fast: this broker carries one test's few megabytes.
    const proc: ChildProcess = spawn(
      'java',
      [
        '-Xms128m',
        '-Xmx512m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-XX:+ExitOnOutOfMemoryError',
        log4j,
        `-Dkafka.log.file=${logFile}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        properties,
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    try {
      const state = await waitFor(
        `the scratch Kafka broker on ${brokers[0]}`,
        async () => {
          if (proc.exitCode !== null) return 'exited';
          await admin.connect();
          await admin.listTopics();
          return 'ready';
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      if (state === 'exited') throw new Error(`the scratch Kafka broker exited:\n${readLog()}`);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    brokers,
    listeners: Object.fromEntries(extra.map((l) => [l.name, [l.address]])),
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    kill,
    start: launch,
    log: readLog,
    stop,
  };
}
