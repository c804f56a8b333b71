/** `drover agent`'s choice of hypervisor driver from its flags, the hidden simulated one included. */
import { randomUUID } from 'node:crypto';
import { buildAgentDriver, type AgentDriverFlags } from '../../../src/cli/agent-driver.js';
import { CachedListDriver } from '../../../src/hypervisor/cached-list.js';
import { buildDomainXml } from '../../../src/hypervisor/domainxml/index.js';

const flags = (over: Partial<AgentDriverFlags>): AgentDriverFlags => ({
  hypervisor: 'libvirt',
  'libvirt-uri': 'qemu:///system',
  acceleration: 'auto',
  'sim-latency-scale': '1',
  ...over,
});

describe('buildAgentDriver', () => {
  it('runs the agent on libvirt by default, behind the list cache', () => {
    const built = buildAgentDriver(flags({}));
    expect(built).toMatchObject({ simulated: false });
    expect('driver' in built && built.driver).toBeInstanceOf(CachedListDriver);
  });

  it('runs it on a working simulated hypervisor when asked, at the given latency scale', async () => {
    const built = buildAgentDriver(flags({ hypervisor: 'simulated', 'sim-latency-scale': '0' }));
    if ('error' in built) throw new Error(built.error);
    expect(built.simulated).toBe(true);
    const uid = randomUUID();
    const xml = buildDomainXml({
      uid,
      name: 'cli-sim',
      owner: { namespace: 'cli', name: 'sim' },
      hypervisor: 'qemu',
      cpu: { cores: 1, mode: 'host-model' },
      memoryMiB: 64,
      disks: [],
      interfaces: [],
    });
    await built.driver.define(xml);
    await built.driver.start(uid);
    expect(await built.driver.list()).toEqual([expect.objectContaining({ uuid: uid, state: 'running' })]);
  });

  it('refuses unknown hypervisors, bad scales and bad accelerations with a usage message', () => {
    expect(buildAgentDriver(flags({ hypervisor: 'xen' }))).toEqual({ error: expect.stringContaining('--hypervisor') });
    for (const scale of ['-1', 'fast', '', 'Infinity']) {
      expect(buildAgentDriver(flags({ hypervisor: 'simulated', 'sim-latency-scale': scale }))).toEqual({ error: expect.stringContaining('--sim-latency-scale') });
    }
    expect(buildAgentDriver(flags({ acceleration: 'hvf' }))).toEqual({ error: expect.stringContaining('--acceleration') });
  });
});
