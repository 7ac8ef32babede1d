// kafkajs' log lines land in the component's pino logger at a level a person can act on: what
// kafkajs or its caller handles (a broker's error answer, a member expired in a rebalance) is not
// an error-level line on a healthy run (issue 9 point 9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKafka } from '../../src/kafka/client.js';
import { createLogger } from '../../src/shared/log.js';

function kafkaLogging() {
  const lines: Array<{ level: number; msg: string; kafka: string }> = [];
  const log = createLogger({
    level: 'debug',
    stream: { write: (l: string) => void lines.push(JSON.parse(l)) },
  });
  const kafka = createKafka({ brokers: ['127.0.0.1:9'], clientId: 'test' }, log);
  return { lines, logger: kafka.logger().namespace('Runner') };
}

test('kafkajs: a member the coordinator expired rejoins with a warning, not an error', () => {
  const { lines, logger } = kafkaLogging();
  logger.error('The coordinator is not aware of this member, re-joining the group', { groupId: 'g' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 40);
  assert.equal(lines[0]!.kafka, 'Runner');
});

test('kafkajs: a failure it is about to retry is a warning', () => {
  const { lines, logger } = kafkaLogging();
  logger.error('Failed to send messages: This server is not the leader for that topic-partition', {
    retryCount: 0,
    retryTime: 238,
  });
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [[40, 'Failed to send messages: This server is not the leader for that topic-partition']],
  );
});

test("kafkajs: a broker's error answer the caller handles is debug; other errors stay errors", () => {
  const { lines, logger } = kafkaLogging();
  logger.error('Response CreateTopics(key: 19, version: 3)', { error: 'Topic already exists' });
  logger.error('Crash: KafkaJSNumberOfRetriesExceeded: Connection error', { groupId: 'g' });
  logger.warn('The group is rebalancing, re-joining', { groupId: 'g' });
  assert.deepEqual(
    lines.map((l) => l.level),
    [20, 50, 40],
  );
});
