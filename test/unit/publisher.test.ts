// The Publisher's scheduling, against producers whose acknowledgements the test releases by hand.
// (Real Kafka: test/source/ — ordering across a SIGKILL, every change present.)
import assert from 'node:assert/strict';
import test from 'node:test';
import type { EventMessage, EventProducer } from '../../src/kafka/event-producer.js';
import { Publisher } from '../../src/kafka/publisher.js';
import { Arena, releaseView } from '../../src/shared/arena.js';

/** A producer that records each request and acknowledges it only when the test says so. */
class HeldProducer implements EventProducer {
  requests: EventMessage[][] = [];
  private pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  outstanding = 0;
  maxOutstanding = 0;

  send(messages: EventMessage[]): Promise<void> {
    this.requests.push(messages);
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  /** Acknowledges the oldest request. */
  async ack(): Promise<void> {
    this.outstanding--;
    this.pending.shift()!.resolve();
    await settle();
  }
  async failNext(): Promise<void> {
    this.outstanding--;
    this.pending.shift()!.reject(new Error('NOT_LEADER_OR_FOLLOWER'));
    await settle();
  }
  async close(): Promise<void> {}
}

const settle = () => new Promise((r) => setImmediate(r));
const msg = (partition: number, n: number): EventMessage => ({
  topic: 't',
  partition,
  key: Buffer.from(`k${n}`),
  value: Buffer.alloc(100, n),
});
const options = {
  batchMaxBytes: 100_000,
  requestMaxBytes: 400_000,
  maxInFlightBytes: 10_000_000,
  lingerMs: 1,
};
const label = (m: EventMessage) => m.key.toString();

test('partitions are shared among lanes; each lane has one request out and keeps publish order', async () => {
  const lanes = [new HeldProducer(), new HeldProducer()];
  const publisher = new Publisher(lanes, options, () => assert.fail('no failure expected'));
  const acked: string[] = [];
  for (let n = 0; n < 6; n++) await publisher.publish(msg(n % 4, n), () => acked.push(`k${n}`));
  publisher.flush();
  await settle();
  // partition % lanes: partitions 0 and 2 on lane 0, 1 and 3 on lane 1; both lanes sent at once.
  assert.deepEqual(
    lanes[0]!.requests.map((r) => r.map(label)),
    [['k0', 'k2', 'k4']],
  );
  assert.deepEqual(
    lanes[1]!.requests.map((r) => r.map(label)),
    [['k1', 'k3', 'k5']],
  );
  // More while both are out: queued, not sent, until the lane's request is acknowledged.
  await publisher.publish(msg(0, 6), () => acked.push('k6'));
  await publisher.publish(msg(2, 7), () => acked.push('k7'));
  publisher.flush();
  await settle();
  assert.equal(lanes[0]!.requests.length, 1);
  await lanes[1]!.ack();
  assert.deepEqual(acked, ['k1', 'k3', 'k5']);
  assert.equal(lanes[0]!.requests.length, 1, 'lane 0 still waits for its own acknowledgement');
  await lanes[0]!.ack();
  assert.deepEqual(lanes[0]!.requests[1]!.map(label), ['k6', 'k7']);
  await lanes[0]!.ack();
  await publisher.drain();
  assert.deepEqual(acked, ['k1', 'k3', 'k5', 'k0', 'k2', 'k4', 'k6', 'k7']);
  assert.ok(lanes.every((l) => l.maxOutstanding === 1));
});

test('flushes while a request is out (small transactions) coalesce into one next request', async () => {
  const lane = new HeldProducer();
  const publisher = new Publisher([lane], options, () => {});
  await publisher.publish(msg(0, 0), () => {});
  publisher.flush(); // commit of transaction 0
  for (let n = 1; n <= 5; n++) {
    await publisher.publish(msg(n % 3, n), () => {});
    publisher.flush(); // commit of transaction n
  }
  await settle();
  assert.equal(lane.requests.length, 1);
  await lane.ack();
  assert.deepEqual(
    lane.requests.map((r) => r.map(label)),
    [['k0'], ['k1', 'k2', 'k3', 'k4', 'k5']],
  );
  await lane.ack();
  await publisher.drain();
});

test('a full request is cut at once and queued behind the lane’s outstanding one', async () => {
  const lane = new HeldProducer();
  // Room for 3 messages of ~100 bytes (+ overhead) per request.
  const publisher = new Publisher([lane], { ...options, requestMaxBytes: 600 }, () => {});
  for (let n = 0; n < 7; n++) await publisher.publish(msg(0, n), () => {});
  await settle();
  assert.deepEqual(
    lane.requests.map((r) => r.map(label)),
    [['k0', 'k1', 'k2']],
  );
  await lane.ack();
  assert.deepEqual(lane.requests[1]!.map(label), ['k3', 'k4', 'k5']);
  await lane.ack();
  const drained = publisher.drain();
  await settle();
  assert.deepEqual(lane.requests[2]!.map(label), ['k6']);
  await lane.ack();
  await drained;
});

test('publish waits for room when maxInFlightBytes are out, and resumes on acknowledgement', async () => {
  const lane = new HeldProducer();
  const publisher = new Publisher([lane], { ...options, maxInFlightBytes: 400 }, () => {});
  await publisher.publish(msg(0, 0), () => {});
  await publisher.publish(msg(0, 1), () => {});
  let third = false;
  const waiting = publisher.publish(msg(0, 2), () => {}).then(() => (third = true));
  await settle();
  assert.equal(third, false, 'the third message waits: two of ~170 bytes are out of 400');
  assert.equal(lane.requests.length, 1, 'waiting sends what is queued');
  await lane.ack();
  await waiting;
  assert.equal(third, true);
  const drained = publisher.drain();
  await settle();
  await lane.ack();
  await drained;
});

test('after a failed request nothing later is sent, on any lane, and publish fails', async () => {
  const lanes = [new HeldProducer(), new HeldProducer()];
  let failure: Error | undefined;
  const publisher = new Publisher(lanes, { ...options, requestMaxBytes: 600 }, (e) => (failure = e));
  const acked: string[] = [];
  for (let n = 0; n < 8; n++) await publisher.publish(msg(0, n), () => acked.push(`k${n}`));
  await settle();
  assert.equal(lanes[0]!.requests.length, 1);
  await lanes[0]!.failNext();
  assert.match(String(failure), /Kafka did not store a batch: NOT_LEADER_OR_FOLLOWER/);
  assert.equal(lanes[0]!.requests.length, 1, 'the request queued behind the failed one is not sent');
  assert.deepEqual(acked, []);
  await assert.rejects(
    publisher.publish(msg(1, 9), () => {}),
    /Kafka did not store a batch/,
  );
  assert.equal(lanes[1]!.requests.length, 0);
  await assert.rejects(publisher.drain(), /Kafka did not store a batch/);
});

test('a recycled value goes back to its arena only once Kafka stored it; a failed batch keeps it', async () => {
  // Slabs of 1 KiB: four 256-byte allocations fill one.
  const fill = (arena: Arena) => Array.from({ length: 4 }, () => arena.alloc(256));
  const arena = new Arena(1024);
  const [value, ...rest] = fill(arena);
  for (const v of rest) releaseView(v); // their owners gave them back
  const lane = new HeldProducer();
  let failed: Error | undefined;
  const publisher = new Publisher([lane], options, (err) => (failed = err));
  await publisher.publish({ ...msg(0, 1), value: value!, recycle: true }, () => {});
  publisher.flush();
  await settle();
  // Sent, not acknowledged: a new slab, not that one.
  const next = fill(arena);
  assert.ok(next.every((v) => v.buffer !== value!.buffer));
  await lane.ack();
  // Stored: the next slab is the first one again.
  assert.equal(arena.alloc(256).buffer, value!.buffer);
  assert.equal(failed, undefined);

  // A batch that fails keeps its value (it may still be in a request on the wire).
  const arena2 = new Arena(1024);
  const [value2, ...rest2] = fill(arena2);
  for (const v of rest2) releaseView(v);
  const lane2 = new HeldProducer();
  const publisher2 = new Publisher([lane2], options, () => {});
  await publisher2.publish({ ...msg(0, 3), value: value2!, recycle: true }, () => {});
  publisher2.flush();
  await settle();
  await lane2.failNext();
  for (let i = 0; i < 12; i++) assert.notEqual(arena2.alloc(256).buffer, value2!.buffer);
});
