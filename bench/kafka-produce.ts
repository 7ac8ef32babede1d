// Kafka produce path (not a test): why change events go through @platformatic/kafka
// (src/kafka/event-producer.ts) while the rest of vecrelay uses kafkajs.
//   npx tsx bench/kafka-produce.ts [--messages 60000] [--size 6300] [--per-request 600]
// Needs the local stack. Both clients send the same messages the way the source does: an idempotent
// producer, acks=all, one request at a time of `per-request` messages spread over 6 partitions.
// Each runs twice, alternating, on a fresh topic; prints messages/s, MB/s and their ratio.
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { createEventProducer, type EventMessage } from '../src/kafka/event-producer.js';
import { stackEnv, uniqueName } from '../test/helpers/stack.js';
import { withAdmin } from '../test/helpers/kafka.js';
import { hideKafkajsTimerWarning } from '../src/kafka/kafkajs-timer-warning.js';

hideKafkajsTimerWarning(); // the bench's own kafkajs clients

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '60000' },
    size: { type: 'string', default: '6300' },
    'per-request': { type: 'string', default: '600' },
  },
});
const total = Number(args.messages);
const size = Number(args.size);
const perRequest = Number(args['per-request']);
const PARTITIONS = 6;
const brokers = stackEnv().kafkaBrokers;
// Distinct values (not one buffer sent 60k times), like real events.
const values = Array.from({ length: 64 }, (_, i) => Buffer.alloc(size, i));

async function freshTopic(label: string): Promise<string> {
  const topic = uniqueName(`bench_produce_${label}`);
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    }),
  );
  return topic;
}

function requests(topic: string): EventMessage[][] {
  const out: EventMessage[][] = [];
  for (let i = 0; i < total; i += perRequest) {
    const messages: EventMessage[] = [];
    for (let j = i; j < Math.min(total, i + perRequest); j++)
      messages.push({
        topic,
        partition: j % PARTITIONS,
        key: Buffer.from(String(j)),
        value: values[j % 64]!,
      });
    out.push(messages);
  }
  return out;
}

async function kafkajs(): Promise<number> {
  const topic = await freshTopic('kafkajs');
  const batches = requests(topic).map((b) =>
    b.map(({ key, value, partition }) => ({ key, value, partition })),
  );
  const producer = new Kafka({ brokers, logLevel: logLevel.ERROR }).producer({ idempotent: true });
  await producer.connect();
  const t0 = performance.now();
  for (const messages of batches)
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  const seconds = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return seconds;
}

async function platformatic(): Promise<number> {
  const topic = await freshTopic('platformatic');
  const batches = requests(topic);
  const producer = await createEventProducer({ brokers, clientId: 'bench' });
  await producer.send(batches[0]!.slice(0, 1)); // connect and fetch metadata outside the timing
  const t0 = performance.now();
  for (const messages of batches) await producer.send(messages);
  const seconds = (performance.now() - t0) / 1000;
  await producer.close();
  return seconds;
}

function report(label: string, seconds: number): number {
  const perSecond = total / seconds;
  console.log(
    `${label.padEnd(44)} ${perSecond.toFixed(0).padStart(7)} msg/s  ${((perSecond * size) / 2 ** 20).toFixed(1).padStart(6)} MB/s`,
  );
  return perSecond;
}

console.log(`${total} messages of ${size} bytes, ${perRequest} per request, ${PARTITIONS} partitions`);
const rawRuns: number[] = [];
const oursRuns: number[] = [];
for (let run = 1; run <= 2; run++) {
  rawRuns.push(report(`run ${run}: kafkajs sendBatch`, await kafkajs()));
  oursRuns.push(report(`run ${run}: @platformatic/kafka (event-producer)`, await platformatic()));
}
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
console.log(`ratio @platformatic/kafka / kafkajs: ${(mean(oursRuns) / mean(rawRuns)).toFixed(2)}`);
