// Certificates made for one test with openssl: a self-signed CA and certificates it signs (a
// server's, with the names it answers to; a client's, whose CN is a database user). EC keys: quick
// to make. As root, the directory and files belong to the `postgres` OS user, which PostgreSQL
// requires of its key file (and mode 0600).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  /** The CA's certificate (PEM file): what clients trust. */
  caFile: string;
  /** A certificate signed by the CA, for `subjectAltName` (e.g. "DNS:localhost,IP:127.0.0.1"). */
  issue(
    name: string,
    subject: string,
    subjectAltName?: string,
  ): Promise<{ certFile: string; keyFile: string }>;
  /** Gives every file to the postgres OS user (when we are root), keys 0600. */
  handToPostgres(): Promise<void>;
  remove(): void;
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeTestCa(label = 'vecrelay test CA'): Promise<TestCa> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vecrelay-tls-'));
  const caFile = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  await run('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    `/CN=${label}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return {
    dir,
    caFile,
    async issue(name, subject, subjectAltName) {
      const keyFile = path.join(dir, `${name}.key`);
      const csr = path.join(dir, `${name}.csr`);
      const certFile = path.join(dir, `${name}.crt`);
      const ext = path.join(dir, `${name}.ext`);
      writeFileSync(
        ext,
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=digitalSignature,keyEncipherment',
          `extendedKeyUsage=${subjectAltName ? 'serverAuth' : 'clientAuth'}`,
          ...(subjectAltName ? [`subjectAltName=${subjectAltName}`] : []),
        ].join('\n'),
      );
      await run('openssl', ['req', ...ecKey, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${subject}`]);
      await run('openssl', [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caFile,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-out',
        certFile,
        '-days',
        '2',
        '-extfile',
        ext,
      ]);
      chmodSync(keyFile, 0o600);
      return { certFile, keyFile };
    },
    async handToPostgres() {
      if (process.getuid?.() !== 0) return;
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      for (const f of ['.', ...readdirSync(dir)])
        chownSync(path.join(dir, f), Number(uid.stdout.trim()), Number(gid.stdout.trim()));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
