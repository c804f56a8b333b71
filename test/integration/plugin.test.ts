/**
 * `kubectl drover` against the test bed: the real plugin process (dist/)
 * with real kubeconfigs, the operator under deploy/'s RBAC (its console
 * proxy reviewing tokens and access on the real API server), two enrolled
 * agents on real libvirt/QEMU, and the tiny guest, whose serial console runs
 * a shell. Users are ServiceAccounts with tokens: `viewer` may only get,
 * `editor` may also update VirtualMachines; the admin uses a client
 * certificate from the cluster's client CA.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createSelfSignedServerCert } from '../../src/pki/openssl.js';
import { startE2E, type E2E } from '../support/e2e.js';
import { adminKubeconfig, kubectl, repoRoot } from '../support/env.js';

type Obj = Record<string, any>;
let env: E2E;
let consoleUrl: string;
let consoleCa: string;
const kubeconfigs: Record<'viewer' | 'editor', string> = { viewer: '', editor: '' };

interface PluginRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kubectl-drover` (the built bin entry) with a kubeconfig; `-n` is not added, so the context's namespace applies unless args say otherwise. */
function plugin(args: string[], kubeconfig: string, timeoutMs = 60_000): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'dist/cli/kubectl-drover.js'), ...args], {
      env: { ...process.env, KUBECONFIG: kubeconfig, DROVER_CONSOLE_URL: consoleUrl, DROVER_CONSOLE_CA_FILE: consoleCa },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * `kubectl-drover console VM`: types `command` into the guest's shell once
 * connected, waits until `expected` shows in the output, then presses Ctrl-].
 */
function consoleSession(vm: string, kubeconfig: string, command: string, expected: RegExp, extraArgs: string[] = []): Promise<PluginRun & { sawAnswer: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'dist/cli/kubectl-drover.js'), 'console', vm, ...extraArgs], {
      env: { ...process.env, KUBECONFIG: kubeconfig, DROVER_CONSOLE_URL: consoleUrl, DROVER_CONSOLE_CA_FILE: consoleCa },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sawAnswer = false;
    let typing: NodeJS.Timeout | undefined;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (typing === undefined && stderr.includes('Connected to')) {
        // Type until the answer shows (the first line may meet a shell still starting).
        const type = () => child.stdin.write(`${command}\r`);
        type();
        typing = setInterval(type, 3000);
      }
    });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!sawAnswer && expected.test(stdout)) {
        sawAnswer = true;
        clearInterval(typing);
        child.stdin.write(Buffer.from([0x1d]));
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(typing);
      resolve({ code, stdout, stderr, sawAnswer });
    });
  });
}

/** A kubeconfig for ServiceAccount `sa` (a fresh token), with the test namespace as its context's namespace. */
async function serviceAccountKubeconfig(sa: string): Promise<string> {
  const { stdout: token } = await env.kubectl(['create', 'token', sa, '--duration=1h']);
  const admin = parse(readFileSync(adminKubeconfig(), 'utf8')) as Obj;
  const cluster = admin.clusters[0];
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ ...cluster, name: 'test' }],
    users: [{ name: sa, user: { token: token.trim() } }],
    contexts: [{ name: sa, context: { cluster: 'test', user: sa, namespace: env.namespace } }],
    'current-context': sa,
  };
  const path = join(env.stateDir, `${sa}.kubeconfig`);
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

/** The cluster's client CA file (the control plane's PKI, next to the admin kubeconfig). */
function clusterClientCa(): string {
  const state = JSON.parse(readFileSync(join(dirname(adminKubeconfig()), 'controlplane.json'), 'utf8')) as { pki: { caCert: string } };
  return state.pki.caCert;
}

const vmHost = async (name: string) => (await env.get('virtualmachine', name))?.status?.host as string | undefined;

beforeAll(async () => {
  // The console proxy's serving certificate, for the gateway address the plugin connects to.
  const dir = join(process.env['DROVER_TEST_STATE'] ?? join(repoRoot(), '.drover', 'test'), 'plg-console-tls');
  await mkdir(dir, { recursive: true });
  const gateway = '10.247.99.1';
  const serving = await createSelfSignedServerCert('drover-console', { dns: ['localhost'], ips: [gateway, '127.0.0.1'] }, 1);
  consoleCa = join(dir, 'console.crt');
  await writeFile(consoleCa, serving.certPem);
  await writeFile(join(dir, 'console.key'), serving.keyPem, { mode: 0o600 });
  consoleUrl = `https://${gateway}:9444`;

  env = await startE2E({
    name: 'plg',
    subnet: '10.247.99.0/24',
    waitHostsUp: true,
    operatorArgs: [
      `--console-listen=${gateway}:9444`,
      `--console-tls-cert-file=${consoleCa}`,
      `--console-tls-key-file=${join(dir, 'console.key')}`,
      `--client-ca-file=${clusterClientCa()}`,
    ],
  });
  expect(env.gateway).toBe(gateway);
  await env.apply([env.storageDomain('shared'), env.guestVm('web', 1)]);

  // viewer: get/list only. editor: may also update VirtualMachines (and so gets consoles).
  const ns = env.namespace;
  const read = { apiGroups: ['drover.io'], resources: ['managers', 'hosts', 'storagedomains', 'virtualmachines', 'virtualmachinemigrations'], verbs: ['get', 'list'] };
  const roles = [
    { name: 'viewer', rules: [read] },
    {
      name: 'editor',
      rules: [read, { apiGroups: ['drover.io'], resources: ['virtualmachines'], verbs: ['update'] }, { apiGroups: ['drover.io'], resources: ['virtualmachinemigrations'], verbs: ['create'] }],
    },
  ];
  const objects = roles.flatMap((r) => [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: r.name, namespace: ns } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `drover-${r.name}`, namespace: ns }, rules: r.rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `drover-${r.name}`, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `drover-${r.name}` },
      subjects: [{ kind: 'ServiceAccount', name: r.name, namespace: ns }],
    },
  ]);
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  kubeconfigs.viewer = await serviceAccountKubeconfig('viewer');
  kubeconfigs.editor = await serviceAccountKubeconfig('editor');
  await env.waitFor('virtualmachine', 'web', (o) => o.status?.['phase'] === 'Running' && Boolean(o.status?.['host']), 300_000);
}, 900_000);

afterAll(async () => {
  await env?.stop();
}, 300_000);

describe('kubectl drover', () => {
  it('status shows the Manager, Hosts with phase, the StorageDomain and the VM with phase and host', async () => {
    const host = await vmHost('web');
    const r = await plugin(['status', '-n', env.namespace], adminKubeconfig());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^plg\\s+Standalone`, 'm'));
    expect(r.stdout).toMatch(/^host-1\s+10\.247\.99\.\d+\s+Up\s/m);
    expect(r.stdout).toMatch(/^host-2\s+10\.247\.99\.\d+\s+Up\s/m);
    expect(r.stdout).toMatch(/^shared\s+PosixFS\s+Data\s+Active/m);
    expect(r.stdout).toMatch(new RegExp(`^web\\s+Running\\s+${host}\\s`, 'm'));
  });

  it('unknown VMs and hosts: one line on stderr, exit 1, nothing created', async () => {
    for (const args of [['migrate', 'nope'], ['migrate', 'web', '--to', 'host-9'], ['maintenance', 'host-9', 'on']]) {
      const r = await plugin(args, kubeconfigs.editor);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: .*not found in namespace/);
    }
    const { stdout } = await env.kubectl(['get', 'virtualmachinemigrations', '-o', 'name']);
    expect(stdout.trim()).toBe('');
  });

  it('a user without rights is refused by the API server: one line, exit 1, the host unchanged', async () => {
    const r = await plugin(['maintenance', 'host-1', 'on'], kubeconfigs.viewer);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/forbidden/i);
    expect((await env.get('host', 'host-1'))?.spec?.['maintenance']).toBe(false);
  });

  it('console: an editor types into the guest shell and reads the answer (namespace from the kubeconfig context)', async () => {
    const r = await consoleSession('web', kubeconfigs.editor, 'echo plg-$((6*7))', /plg-42/);
    expect(r.sawAnswer).toBe(true);
    expect(r.code).toBe(0);
  });

  it('console: the admin with a client certificate from the cluster CA gets in too', async () => {
    const r = await consoleSession('web', adminKubeconfig(), 'echo cert-$((5+5))', /cert-10/, ['-n', env.namespace]);
    expect(r.sawAnswer).toBe(true);
    expect(r.code).toBe(0);
  });

  it('console: a user who may only get the VM is refused with 403 and a one-line reason', async () => {
    const r = await plugin(['console', 'web'], kubeconfigs.viewer);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/HTTP 403.*system:serviceaccount:[^:]+:viewer.*may not update/);
    expect(r.stdout).toBe('');
  });

  it('console: an unknown VM is one line and exit 1', async () => {
    const r = await plugin(['console', 'nope'], kubeconfigs.editor);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/HTTP 404.*"nope" not found/);
  });

  it('migrate --to moves the VM to the other host, and the guest keeps answering', async () => {
    const from = (await vmHost('web'))!;
    const to = from === 'host-1' ? 'host-2' : 'host-1';
    const r = await plugin(['migrate', 'web', '--to', to], kubeconfigs.editor, 60_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const name = /virtualmachinemigration\.drover\.io\/(\S+) created/.exec(r.stdout)?.[1];
    expect(name).toMatch(/^web-migration-/);
    await env.waitFor('virtualmachinemigration', name!, (o) => o.status?.['phase'] === 'Succeeded', 180_000);
    await env.waitFor('virtualmachine', 'web', (o) => o.status?.['host'] === to && o.status?.['phase'] === 'Running', 60_000);
    expect(await env.domains(env.hosts.findIndex((h) => h.name === to))).toHaveLength(1);
    expect(await env.guestHttp(env.guestIp(1))).toBe('ok');
    // The console proxy follows status.host: the console now comes from the other host's agent.
    const r2 = await consoleSession('web', kubeconfigs.editor, 'echo moved-$((40+2))', /moved-42/);
    expect(r2.sawAnswer).toBe(true);
    expect(r2.code).toBe(0);
  });

  it('the operator logs console sessions by user, and never a token', async () => {
    const log = await env.operatorLogTail(50_000);
    expect(log).toMatch(/"user":"system:serviceaccount:[^"]+:editor".*"msg":"console session opened"/);
    expect(log).toMatch(/"user":"system:serviceaccount:[^"]+:viewer".*"msg":"console refused: no update permission"/);
    for (const sa of ['viewer', 'editor'] as const) {
      const token = (parse(readFileSync(kubeconfigs[sa], 'utf8')) as Obj).users[0].user.token as string;
      expect(token.length).toBeGreaterThan(100);
      expect(log).not.toContain(token);
      expect(log).not.toContain(token.split('.')[2]);
    }
  });

  it('maintenance on drains the host (the VM moves away), off brings it back Up', async () => {
    const host = (await vmHost('web'))!;
    const other = host === 'host-1' ? 'host-2' : 'host-1';
    const on = await plugin(['maintenance', host, 'on', '-n', env.namespace], adminKubeconfig());
    expect(on.code).toBe(0);
    await env.waitFor('host', host, (o) => o.status?.['phase'] === 'Maintenance', 240_000);
    expect(await vmHost('web')).toBe(other);
    expect((await env.get('virtualmachine', 'web'))?.status?.['phase']).toBe('Running');
    const status = await plugin(['status', '-n', env.namespace], adminKubeconfig());
    expect(status.stdout).toMatch(new RegExp(`^${host}\\s+\\S+\\s+Maintenance\\s+\\S+\\s+true`, 'm'));

    const off = await plugin(['maintenance', host, 'off', '-n', env.namespace], adminKubeconfig());
    expect(off.code).toBe(0);
    await env.waitFor('host', host, (o) => o.status?.['phase'] === 'Up', 120_000);
    expect((await env.get('host', host))?.spec?.['maintenance']).toBe(false);
  });
});
