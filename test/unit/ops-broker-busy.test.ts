// Which Kafka failures a waiting operator command (cutover) reads again rather than stopping on
// (src/ops/connect.ts brokerBusy): a broker's retriable answer — the leader of a partition
// created a moment ago not elected yet, as cutover met on a cold start — however wrapped; not a
// broker that does not answer, nor a final answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { createRequire } from 'node:module';
import { Unreachable, brokerBusy } from '../../src/ops/connect.js';

const { KafkaJSProtocolError, KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError } = kafkajs;
// kafkajs builds its protocol errors from the broker's error codes (protocol/error.js).
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error;
};
const answer = (code: number) => new KafkaJSProtocolError(createErrorFromCode(code));
const NOT_LEADER_FOR_PARTITION = 6;
const COORDINATOR_LOAD_IN_PROGRESS = 14;
const TOPIC_AUTHORIZATION_FAILED = 29;

test('a retriable answer is busy, bare, retried out, or wrapped as an unanswered ops call', () => {
  const notLeader = answer(NOT_LEADER_FOR_PARTITION);
  assert.equal(brokerBusy(notLeader), true);
  assert.equal(brokerBusy(answer(COORDINATOR_LOAD_IN_PROGRESS)), true);
  const retriedOut = new KafkaJSNumberOfRetriesExceeded(notLeader, { retryCount: 5, retryTime: 100 });
  assert.equal(brokerBusy(retriedOut), true);
  assert.equal(brokerBusy(new Unreachable(`Kafka: ${notLeader.message}`, { cause: retriedOut })), true);
});

test('not busy: a final answer, a broker that does not answer, anything else', () => {
  assert.equal(brokerBusy(answer(TOPIC_AUTHORIZATION_FAILED)), false);
  const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  assert.equal(brokerBusy(new Unreachable('Kafka: no answer', { cause: refused })), false);
  assert.equal(brokerBusy(new Unreachable('Kafka: no answer within 10 s')), false);
  assert.equal(brokerBusy(new Error('something else')), false);
  assert.equal(brokerBusy(undefined), false);
});
