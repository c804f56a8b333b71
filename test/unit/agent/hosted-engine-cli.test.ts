/**
 * `drover hosted-engine` flags: good input parsed into the shared
 * configuration's shape, bad input refused with a message naming the flag
 * (the command then exits 2 having changed nothing, see the last test).
 * Also the Manager VM's domain XML: the configuration's identity, its
 * lease, and no Drover ownership record (the VM service leaves it alone).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDeployArgs, parseMaintenanceArgs, parseStatusArgs } from '../../../src/cli/hosted-engine-args.js';
import { engineDomainXml, HOSTED_ENGINE_XMLNS } from '../../../src/agent/hosted-engine/engine-domain.js';
import { DEFAULT_TIMINGS } from '../../../src/agent/hosted-engine/timings.js';
import { parseDomainXml } from '../../../src/hypervisor/domainxml/index.js';
import { isOwned } from '../../../src/agent/vms/describe.js';

const BASE = ['--storage', '/srv/he', '--health-url', 'http://10.0.0.50/healthz', '--gateway', '10.0.0.1', '--kernel', '/boot/vmlinuz'];
const deploy = (extra: string[] = [], base = BASE) => parseDeployArgs([...base, ...extra], { hostname: 'Node-1' });

describe('drover hosted-engine deploy flags', () => {
  it('parses a minimal deploy with the defaults, copying the VM files under images/', () => {
    const r = deploy(['--initrd', '/boot/initrd.img', '--cmdline', 'console=ttyS0', '--memory', '128Mi', '--cores', '1', '--acceleration', 'tcg']);
    if (!r.ok) throw new Error(r.error);
    expect(r.value).toMatchObject({
      storage: '/srv/he',
      node: 'node-1',
      healthURL: 'http://10.0.0.50/healthz',
      gateway: '10.0.0.1',
      migrationTransport: 'tls',
      timings: DEFAULT_TIMINGS,
      vm: { cores: 1, memoryMiB: 128, kernel: 'images/vmlinuz', initrd: 'images/initrd.img', cmdline: 'console=ttyS0', bridge: 'br0', acceleration: 'tcg' },
      copies: [{ from: '/boot/vmlinuz', to: 'images/vmlinuz' }, { from: '/boot/initrd.img', to: 'images/initrd.img' }],
    });
    expect(r.value.vm.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });

  it('takes timings as durations and checks them together', () => {
    const r = deploy(['--metadata-interval', '1s', '--host-alive-timeout', '5s', '--bad-health-timeout', '20s', '--migrate-score-gap', '500']);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.timings).toMatchObject({ metadataIntervalMs: 1000, hostAliveTimeoutMs: 5000, badHealthTimeoutMs: 20_000, migrateScoreGap: 500 });
  });

  it.each([
    [['--storage', 'relative/dir'], /--storage must be an absolute path/],
    [['--health-url', 'ftp://x/'], /--health-url must be an http or https URL/],
    [['--gateway', 'gw.example'], /--gateway must be an IP address/],
    [['--memory', 'lots'], /--memory must be a quantity/],
    [['--memory', '32Mi'], /--memory: .*64/],
    [['--cores', 'two'], /--cores must be a whole number/],
    [['--cores', '0'], /--cores: /],
    [['--bridge', 'a-very-long-bridge-name'], /--bridge: must be a Linux interface name/],
    [['--mac', '52:54:00:ZZ:00:01'], /--mac: must be a lower-case MAC/],
    [['--acceleration', 'xen'], /--acceleration: /],
    [['--migration-transport', 'rsh'], /--migration-transport must be tls, tcp or ssh/],
    [['--metadata-interval', 'soon'], /--metadata-interval must be a duration/],
    [['--host-alive-timeout', '2s'], /--host-alive-timeout: .*three metadata intervals/],
    [['--migrate-score-gap=-5'], /--migrate-score-gap must be a whole number/],
    [['--kernel', '/x/../etc/passwd'], /--kernel must be an absolute path without/],
    [['--node', 'Bad_Name'], /--node must be a lower-case DNS name/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('refuses %p with a message naming the flag', (extra, message) => {
    const r = deploy(extra);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(message) });
  });

  it('requires the storage, the health URL, the gateway and something to boot', () => {
    expect(deploy([], BASE.slice(2))).toEqual({ ok: false, error: expect.stringMatching(/--storage .* is required/) });
    expect(deploy([], [...BASE.slice(0, 2), ...BASE.slice(4)])).toEqual({ ok: false, error: expect.stringMatching(/--health-url .* is required/) });
    expect(deploy([], [...BASE.slice(0, 4), ...BASE.slice(6)])).toEqual({ ok: false, error: expect.stringMatching(/--gateway .* is required/) });
    expect(deploy([], BASE.slice(0, 6))).toEqual({ ok: false, error: expect.stringMatching(/--kernel .* or --disk-image/) });
    expect(deploy(['--initrd', '/boot/i'], BASE.slice(0, 6))).toEqual({ ok: false, error: expect.stringMatching(/--kernel .* or --disk-image/) });
  });
});

describe('drover hosted-engine status and set-maintenance flags', () => {
  it('parses status with -o json and the defaults', () => {
    expect(parseStatusArgs(['-o', 'json', '--storage', '/srv/he'])).toEqual({ ok: true, value: { output: 'json', storage: '/srv/he', stateDir: '/var/lib/drover/agent' } });
    expect(parseStatusArgs([])).toEqual({ ok: true, value: { output: 'text', stateDir: '/var/lib/drover/agent' } });
    expect(parseStatusArgs(['-o', 'yaml'])).toEqual({ ok: false, error: '-o must be text or json' });
    expect(parseStatusArgs(['extra'])).toEqual({ ok: false, error: expect.stringContaining('unexpected argument') });
  });

  it('parses each maintenance mode and refuses others', () => {
    for (const mode of ['global', 'local', 'none'] as const) {
      expect(parseMaintenanceArgs(['--mode', mode, '--node', 'node-1'])).toMatchObject({ ok: true, value: { mode, node: 'node-1' } });
    }
    expect(parseMaintenanceArgs(['--mode', 'Global'])).toEqual({ ok: false, error: '--mode must be global, local or none' });
    expect(parseMaintenanceArgs([])).toEqual({ ok: false, error: '--mode must be global, local or none' });
    expect(parseMaintenanceArgs(['--mode', 'local', '--node', '../x'])).toMatchObject({ ok: false });
  });
});

describe('the Manager VM domain', () => {
  const config = () => {
    const r = deploy(['--initrd', '/boot/initrd.img', '--memory', '128Mi', '--acceleration', 'tcg', '--bridge', 'br0']);
    if (!r.ok) throw new Error(r.error);
    return { format: 1 as const, version: 3, vm: r.value.vm, healthURL: r.value.healthURL, gateway: r.value.gateway, migrationTransport: 'tcp' as const, timings: r.value.timings, deployedBy: 'node-1', deployedAt: 'now' };
  };

  it('has the fixed name, the configuration\'s UUID, MAC, files and lease, and is not a Drover VM', () => {
    const c = config();
    const xml = engineDomainXml(c, { root: '/srv/he/hosted-engine', hypervisor: 'qemu', lease: { lockspace: 'lockspace', key: c.vm.uuid, targetPath: '/srv' } });
    const parsed = parseDomainXml(xml);
    expect(parsed).toMatchObject({ name: 'drover-hosted-engine', uuid: c.vm.uuid, memoryMiB: 128 });
    expect(parsed.owner).toBeUndefined();
    expect(isOwned({ uuid: c.vm.uuid, name: 'drover-hosted-engine', state: 'running', persistent: true, xml })).toBe(false);
    expect(xml).toContain(HOSTED_ENGINE_XMLNS);
    expect(xml).toContain('<he:configVersion>3</he:configVersion>');
    expect(xml).toContain('<kernel>/srv/he/hosted-engine/images/vmlinuz</kernel>');
    expect(xml).toContain(`<mac address="${c.vm.mac}"/>`);
    expect(xml).toMatch(/<lease>\s*<lockspace>lockspace<\/lockspace>\s*<key>[0-9a-f-]+<\/key>\s*<target path="\/srv"\/>/);
    expect(xml).toContain('<on_lockfailure>poweroff</on_lockfailure>');
  });
});

describe('drover hosted-engine (the built command)', () => {
  const main = path.join(process.cwd(), 'dist', 'cli', 'main.js');
  const maybe = spawnSync('test', ['-f', main]).status === 0 ? it : it.skip;

  maybe('exits 2 on bad input and leaves the storage untouched', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'drover-he-cli-'));
    try {
      const r = spawnSync(process.execPath, [main, 'hosted-engine', 'deploy', '--storage', dir, '--health-url', 'gopher://x', '--gateway', '10.0.0.1', '--kernel', '/boot/vmlinuz'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--health-url must be an http or https URL');
      const m = spawnSync(process.execPath, [main, 'hosted-engine', 'set-maintenance', '--mode', 'sideways', '--storage', dir], { encoding: 'utf8' });
      expect(m.status).toBe(2);
      expect(m.stderr).toContain('--mode must be global, local or none');
      const missing = spawnSync(process.execPath, [main, 'hosted-engine', 'deploy', '--storage', dir, '--health-url', 'http://x/', '--gateway', '10.0.0.1', '--kernel', path.join(dir, 'nope')], { encoding: 'utf8' });
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain('is not a readable file');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
