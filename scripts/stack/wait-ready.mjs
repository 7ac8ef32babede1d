// Ready-checks for the stack, used by up.sh instead of sleeps:
//   node wait-ready.mjs kafka HOST:PORT SECONDS   — the broker answers metadata and lists topics
//   node wait-ready.mjs kafka-sasl HOST:PORT SECONDS — the same after a SCRAM-SHA-512 login as
//                                                    $KAFKA_SASL_USER / $KAFKA_SASL_PASSWORD
//   node wait-ready.mjs http URL SECONDS          — the URL answers 200
// An optional last argument names a pid file: when that process has died, fail at once.
// kafkajs sets a timer from a field that starts unset, which Node 24 reports as a
// TimeoutNegativeWarning: up.sh starts this with --disable-warning for it (as src/cli/main.ts filters it).
import { Kafka, logLevel } from 'kafkajs';

import { readFileSync } from 'node:fs';

const [kind, target, seconds = '60', pidFile] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;

async function kafkaReady() {
  const sasl =
    kind === 'kafka-sasl'
      ? {
          mechanism: 'scram-sha-512',
          username: process.env.KAFKA_SASL_USER,
          password: process.env.KAFKA_SASL_PASSWORD,
        }
      : undefined;
  const admin = new Kafka({
    brokers: [target],
    sasl,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function httpReady() {
  const res = await fetch(target, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

const check = kind.startsWith('kafka') ? kafkaReady : httpReady;
let lastError;
function processDied() {
  if (!pidFile) return false;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
    return false;
  } catch {
    return true;
  }
}

while (Date.now() < deadline) {
  if (processDied()) {
    console.error(`${kind} at ${target}: the process (${pidFile}) exited before it was ready`);
    process.exit(1);
  }
  try {
    if (await check()) process.exit(0);
  } catch (err) {
    lastError = err;
  }
  await new Promise((r) => setTimeout(r, 250));
}
console.error(`${kind} at ${target} not ready after ${seconds}s: ${lastError?.message ?? 'no answer'}`);
process.exit(1);
