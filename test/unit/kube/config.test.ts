/**
 * loadKubeConfig reads a kubeconfig's certificate files once, at load:
 * client-node would otherwise read them from disk on every request.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadKubeConfig } from '../../../src/kube/config.js';

describe('loadKubeConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'drover-kubeconfig-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, user: Record<string, string>, cluster: Record<string, string>) => {
    const file = path.join(dir, name);
    await writeFile(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    return file;
  };

  it('reads certificate-authority, client-certificate and client-key files at load, so requests work after they are gone', async () => {
    const ca = path.join(dir, 'ca.crt');
    const cert = path.join(dir, 'client.crt');
    const key = path.join(dir, 'client.key');
    await writeFile(ca, 'CA PEM');
    await writeFile(cert, 'CERT PEM');
    await writeFile(key, 'KEY PEM');
    const kc = loadKubeConfig(await write('files.yaml', { 'client-certificate': cert, 'client-key': key }, { 'certificate-authority': ca }));
    await rm(ca);
    await rm(cert);
    await rm(key);
    expect(kc.getCurrentCluster()?.caFile).toBeUndefined();
    expect(Buffer.from(kc.getCurrentCluster()!.caData!, 'base64').toString()).toBe('CA PEM');
    const opts: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
    await kc.applyToHTTPSOptions(opts);
    expect(opts.ca?.toString()).toBe('CA PEM');
    expect(opts.cert?.toString()).toBe('CERT PEM');
    expect(opts.key?.toString()).toBe('KEY PEM');
    expect(kc.getCurrentUser()?.name).toBe('u');
  });

  it('leaves a token and inline data as they are, and an unreadable file as a reference', async () => {
    const missing = path.join(dir, 'missing.crt');
    const kc = loadKubeConfig(await write('token.yaml', { token: 'abc' }, { 'certificate-authority': missing }));
    expect(kc.getCurrentUser()?.token).toBe('abc');
    expect(kc.getCurrentCluster()?.caFile).toBe(missing);
    const inline = loadKubeConfig(await write('inline.yaml', { token: 'abc' }, { 'certificate-authority-data': Buffer.from('X').toString('base64') }));
    expect(inline.getCurrentCluster()?.caData).toBe(Buffer.from('X').toString('base64'));
  });
});
