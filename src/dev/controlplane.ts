/**
 * A real Kubernetes control plane for tests and local use: etcd and
 * kube-apiserver built from the upstream Go modules pinned in controlplane/go.mod
 * (the envtest pattern, with no prebuilt download), started on loopback with
 * RBAC authorization and client-certificate authentication.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureControlPlanePki, type ControlPlanePki } from './pki.js';
import { isAlive, run, startDetached, stopProcess, waitFor } from './exec.js';

/** Where built binaries and guest images are cached (outside the repo). */
export function cacheRoot(): string {
  return process.env['DROVER_CACHE_DIR'] ?? '/var/cache/drover';
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(go|mod|sum)$/.test(entry)) out.push(path);
  }
  return out;
}

/** The k8s.io/kubernetes version pinned in controlplane/go.mod. */
export function kubernetesVersion(moduleDir: string): string {
  const match = /k8s\.io\/kubernetes (v[0-9.]+)/.exec(readFileSync(join(moduleDir, 'go.mod'), 'utf8'));
  if (!match?.[1]) throw new Error('controlplane/go.mod does not require k8s.io/kubernetes');
  return match[1];
}

/** Paths of the control-plane binaries. */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
}

/**
 * Builds etcd and kube-apiserver once per (version, source hash) into the
 * cache; later calls return the cached binaries at once.
 */
export async function ensureControlPlaneBinaries(repoRoot: string, log: (msg: string) => void = () => {}): Promise<ControlPlaneBinaries> {
  const moduleDir = join(repoRoot, 'controlplane');
  const hash = createHash('sha256');
  for (const file of sourceFiles(moduleDir)) hash.update(file.slice(moduleDir.length)).update(readFileSync(file));
  const key = `${kubernetesVersion(moduleDir)}-${hash.digest('hex').slice(0, 12)}`;
  const binDir = join(cacheRoot(), 'controlplane', key);
  const binaries = { etcd: join(binDir, 'etcd'), kubeApiserver: join(binDir, 'kube-apiserver') };
  if (existsSync(binaries.etcd) && existsSync(binaries.kubeApiserver)) return binaries;
  await mkdir(join(cacheRoot(), 'controlplane'), { recursive: true });
  const tmp = await mkdtemp(join(cacheRoot(), 'controlplane', `.build-${key}-`));
  log(`building etcd and kube-apiserver ${key} (first time only, several minutes)`);
  await run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', tmp + '/', './cmd/etcd', './cmd/kube-apiserver'], {
    cwd: moduleDir,
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  await rm(binDir, { recursive: true, force: true });
  await rename(tmp, binDir);
  return binaries;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** What a running control plane looks like, persisted in `<stateDir>/controlplane.json`. */
export interface ControlPlaneState {
  url: string;
  etcdPid: number;
  apiserverPid: number;
  adminKubeconfig: string;
  pki: ControlPlanePki;
}

/** Writes a kubeconfig for `url` authenticating with a client certificate or a bearer token. */
export async function writeKubeconfig(
  path: string,
  url: string,
  caCert: string,
  user: { clientCert: string; clientKey: string } | { token: string },
  userName = 'drover',
  namespace = 'default',
): Promise<void> {
  const credentials =
    'token' in user ? { token: user.token } : { 'client-certificate': user.clientCert, 'client-key': user.clientKey };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'drover-dev', cluster: { server: url, 'certificate-authority': caCert } }],
    users: [{ name: userName, user: credentials }],
    contexts: [{ name: userName, context: { cluster: 'drover-dev', user: userName, namespace } }],
    'current-context': userName,
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}

function readyz(url: string, pki: ControlPlanePki): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/readyz`,
      { ca: readFileSync(pki.caCert), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey), timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? true : undefined);
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Starts etcd and kube-apiserver (detached, so they outlive the caller) and
 * waits until the API server is ready. Ports are picked free on 127.0.0.1.
 */
export async function startControlPlane(repoRoot: string, stateDir: string, log: (msg: string) => void = () => {}): Promise<ControlPlaneState> {
  const existing = await readControlPlaneState(stateDir);
  if (existing && isAlive(existing.apiserverPid) && isAlive(existing.etcdPid)) return existing;
  const binaries = await ensureControlPlaneBinaries(repoRoot, log);
  await mkdir(join(stateDir, 'pki'), { recursive: true });
  await rm(join(stateDir, 'etcd'), { recursive: true, force: true });
  const pki = await ensureControlPlanePki(join(stateDir, 'pki'));
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const etcdPid = startDetached(
    binaries.etcd,
    [
      '--name=drover-dev', `--data-dir=${join(stateDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=drover-dev=http://127.0.0.1:${etcdPeer}`,
      // A throwaway test database: durability on power loss is not needed.
      '--unsafe-no-fsync', '--log-level=warn',
    ],
    join(stateDir, 'etcd.log'),
  );
  const url = `https://127.0.0.1:${apiPort}`;
  const apiserverPid = startDetached(
    binaries.kubeApiserver,
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--api-audiences=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.96.0.0/24',
      '--allow-privileged=true',
      `--cert-dir=${join(stateDir, 'apiserver-certs')}`,
      '--v=1',
    ],
    join(stateDir, 'kube-apiserver.log'),
  );
  const state: ControlPlaneState = { url, etcdPid, apiserverPid, adminKubeconfig: join(stateDir, 'admin.kubeconfig'), pki };
  await writeFile(join(stateDir, 'controlplane.json'), JSON.stringify(state, null, 2));
  await writeKubeconfig(state.adminKubeconfig, url, pki.caCert, { clientCert: pki.adminCert, clientKey: pki.adminKey }, 'drover-admin');
  await waitFor('kube-apiserver /readyz', async () => {
    if (!isAlive(apiserverPid)) throw new Error(`kube-apiserver exited; see ${join(stateDir, 'kube-apiserver.log')}`);
    return readyz(url, pki);
  }, 120_000, 200);
  return state;
}

/** The persisted state of a control plane, if one was started in `stateDir`. */
export async function readControlPlaneState(stateDir: string): Promise<ControlPlaneState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, 'controlplane.json'), 'utf8')) as ControlPlaneState;
  } catch {
    return undefined;
  }
}

/** Stops the control plane started in `stateDir` (apiserver first, then etcd). */
export async function stopControlPlane(stateDir: string): Promise<void> {
  const state = await readControlPlaneState(stateDir);
  if (!state) return;
  await stopProcess(state.apiserverPid);
  await stopProcess(state.etcdPid);
  await rm(join(stateDir, 'controlplane.json'), { force: true });
}
