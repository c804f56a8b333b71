/**
 * The plugin's commands against an in-memory API (the integration test
 * plugin.test.ts runs them against the real API server): what they write,
 * and that bad input writes nothing.
 */
import { maintenance, migrate, PluginError, status, type PluginApi } from '../../../src/plugin/commands.js';
import { consoleUrl, splitAtEscape } from '../../../src/plugin/console.js';
import { errorLine, table } from '../../../src/plugin/output.js';
import type { KubeObject, ResourceType } from '../../../src/kube/types.js';

class MemoryApi implements PluginApi {
  readonly objects = new Map<string, KubeObject>();
  readonly writes: string[] = [];
  put(kind: string, name: string, spec: object, status: object = {}): void {
    this.objects.set(`${kind}/${name}`, { metadata: { name, namespace: 'ns' }, spec, status });
  }
  async get(type: ResourceType, _ns: string, name: string) {
    return this.objects.get(`${type.kind}/${name}`);
  }
  async list(type: ResourceType) {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${type.kind}/`)).map(([, v]) => v);
  }
  async create(type: ResourceType, _ns: string, body: object) {
    this.writes.push(`create ${type.kind} ${JSON.stringify(body)}`);
    return { metadata: { name: 'web-migration-abcde', namespace: 'ns' } };
  }
  async mergePatch(type: ResourceType, _ns: string, name: string, body: object) {
    this.writes.push(`patch ${type.kind}/${name} ${JSON.stringify(body)}`);
    return { metadata: { name, namespace: 'ns' } };
  }
}

function env(): MemoryApi {
  const api = new MemoryApi();
  api.put('Host', 'host-1', { address: '10.0.0.11', maintenance: false }, { phase: 'Up', usage: { runningVMs: 1 } });
  api.put('Host', 'host-2', { address: '10.0.0.12', maintenance: false }, { phase: 'Up' });
  api.put('VirtualMachine', 'web', { runStrategy: 'Always' }, { phase: 'Running', host: 'host-1', conditions: [{ type: 'Ready', status: 'True' }] });
  api.put('VirtualMachine', 'off', { runStrategy: 'Halted' }, { phase: 'Stopped' });
  return api;
}

describe('migrate', () => {
  it('creates a VirtualMachineMigration, with the target when given', async () => {
    const api = env();
    expect(await migrate(api, 'ns', 'web', 'host-2')).toContain('from host-1 to host-2');
    expect(api.writes).toEqual([
      'create VirtualMachineMigration {"apiVersion":"drover.io/v1alpha1","kind":"VirtualMachineMigration","metadata":{"generateName":"web-migration-","namespace":"ns"},"spec":{"vmName":"web","targetHost":"host-2"}}',
    ]);
    await migrate(api, 'ns', 'web');
    expect(api.writes[1]).toContain('"spec":{"vmName":"web"}');
  });

  it('refuses unknown VMs and hosts, VMs on no host, and the host it runs on, writing nothing', async () => {
    const api = env();
    await expect(migrate(api, 'ns', 'nope')).rejects.toThrow(new PluginError('virtualmachine "nope" not found in namespace "ns"'));
    await expect(migrate(api, 'ns', 'web', 'host-9')).rejects.toThrow('host "host-9" not found');
    await expect(migrate(api, 'ns', 'off')).rejects.toThrow('runs on no host');
    await expect(migrate(api, 'ns', 'web', 'host-1')).rejects.toThrow('already runs on host "host-1"');
    expect(api.writes).toEqual([]);
  });
});

describe('maintenance', () => {
  it('patches spec.maintenance only when it changes', async () => {
    const api = env();
    await maintenance(api, 'ns', 'host-1', true);
    expect(api.writes).toEqual(['patch Host/host-1 {"spec":{"maintenance":true}}']);
    expect(await maintenance(api, 'ns', 'host-2', false)).toContain('already off');
    expect(api.writes).toHaveLength(1);
    await expect(maintenance(api, 'ns', 'host-9', true)).rejects.toThrow('host "host-9" not found');
    expect(api.writes).toHaveLength(1);
  });
});

describe('status', () => {
  it('shows hosts with phase and VMs with phase and host', async () => {
    const out = await status(env(), 'ns');
    expect(out).toContain('No Manager in namespace ns.');
    expect(out).toMatch(/host-1\s+10\.0\.0\.11\s+Up\s+1\s+false/);
    expect(out).toMatch(/web\s+Running\s+host-1\s+True\s+Always/);
    expect(out).toMatch(/off\s+Stopped\s+-\s+-\s+Halted/);
  });
});

describe('console helpers and output', () => {
  it('stops sending at Ctrl-]', () => {
    expect(splitAtEscape(Buffer.from('ls\r'))).toEqual({ send: Buffer.from('ls\r'), escape: false });
    expect(splitAtEscape(Buffer.from([0x61, 0x1d, 0x62]))).toEqual({ send: Buffer.from('a'), escape: true });
  });

  it('builds the proxy URL', () => {
    expect(consoleUrl('https://p:9444/', 'ns', 'web')).toBe('https://p:9444/v1/namespaces/ns/virtualmachines/web/console');
  });

  it('aligns tables and folds errors into one line', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A     BB\nxxx   y');
    expect(errorLine(new Error('first\n  second'))).toBe('error: first second');
    expect(errorLine(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') }))).toBe(
      'error: fetch failed: connect ECONNREFUSED 127.0.0.1:6443',
    );
  });
});
