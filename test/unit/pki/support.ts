/** Helpers shared by the PKI unit tests: temp dirs, CSRs made with openssl, loggers that keep their lines. */
import { afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp as mkdtempFs, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { run } from '../../../src/dev/exec.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A temporary directory removed after the file's tests. */
export async function tempDir(prefix = 'drover-pki-test-'): Promise<string> {
  const dir = await mkdtempFs(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A key and a CSR made by openssl, with whatever subject and SANs the requester likes. */
export async function makeCsr(
  o: { subject?: string; san?: string; keyArgs?: string[] } = {},
): Promise<{ csrPem: string; keyPem: string }> {
  const dir = await tempDir();
  const key = join(dir, 'k.pem');
  await run('openssl', [...(o.keyArgs ?? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']), '-out', key]);
  const args = ['req', '-new', '-key', key, '-subj', o.subject ?? '/CN=whatever'];
  if (o.san) args.push('-addext', `subjectAltName=${o.san}`);
  const { stdout } = await run('openssl', args);
  return { csrPem: stdout, keyPem: await readFile(key, 'utf8') };
}

/** sha256:<hex> of a certificate's SPKI computed by openssl (independently of node:crypto). */
export async function opensslSpkiHash(certPem: string): Promise<string> {
  const dir = await tempDir();
  await import('node:fs/promises').then((fs) => fs.writeFile(join(dir, 'c.pem'), certPem));
  const { stdout: pub } = await run('openssl', ['x509', '-in', join(dir, 'c.pem'), '-pubkey', '-noout']);
  await import('node:fs/promises').then((fs) => fs.writeFile(join(dir, 'pub.pem'), pub));
  await run('openssl', ['pkey', '-pubin', '-in', join(dir, 'pub.pem'), '-outform', 'DER', '-out', join(dir, 'pub.der')]);
  return `sha256:${createHash('sha256').update(await readFile(join(dir, 'pub.der'))).digest('hex')}`;
}

/** A logger at `level` whose lines are kept (to check what is logged, and what never is). */
export function capturingLogger(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level }, { write: (s: string) => lines.push(s) }), lines };
}
