/** The pure half of the invariant checker: parsing what hosts report, and counting instances. */
import { countsAsRunning, findViolations, parseVirshDomains, qemuDomain, type HostSample, type LibvirtDomain, type QemuProcess } from '../../../src/check/index.js';
import { checkReport } from '../../../src/cli/check-command.js';

const A = '6f1b8a52-1111-4c2e-9d1e-0123456789ab';
const B = '0b5c9f7e-2222-4c2e-9d1e-0123456789ab';

describe('parseVirshDomains', () => {
  it('joins "<uuid> <name>" lines with the state and reason of domstats', () => {
    const text = `${A} web-1\n${B.toUpperCase()} db with space\n\nDomain: 'web-1'\n  state.state=1\n  state.reason=1\n\nDomain: 'db with space'\n  state.state=3\n  state.reason=5\n\n`;
    expect(parseVirshDomains(text)).toEqual([
      { uuid: A, name: 'web-1', state: 1, reason: 1 },
      { uuid: B, name: 'db with space', state: 3, reason: 5 },
    ]);
  });

  it('returns nothing for an empty list', () => {
    expect(parseVirshDomains('\n\n')).toEqual([]);
  });
});

describe('countsAsRunning', () => {
  it('counts running and paused domains, but not a QEMU starting up, an incoming migration or a post-copy source', () => {
    expect(countsAsRunning({ uuid: A, name: 'a', state: 1, reason: 1 })).toBe(true);
    expect(countsAsRunning({ uuid: A, name: 'a', state: 3, reason: 5 })).toBe(true); // I/O error: still holds the disk
    expect(countsAsRunning({ uuid: A, name: 'a', state: 3, reason: 1 })).toBe(true); // paused by a user
    expect(countsAsRunning({ uuid: A, name: 'a', state: 3, reason: 11 })).toBe(false);
    expect(countsAsRunning({ uuid: A, name: 'a', state: 3, reason: 2 })).toBe(false);
    expect(countsAsRunning({ uuid: A, name: 'a', state: 3, reason: 12 })).toBe(false);
    expect(countsAsRunning({ uuid: A, name: 'a' })).toBe(true); // state unknown: count it
  });
});

describe('qemuDomain', () => {
  it('takes -uuid and the guest= part of -name, undoubling commas', () => {
    const argv = ['/usr/bin/qemu-system-x86_64', '-name', 'guest=a,,b,debug-threads=on', '-S', '-uuid', A.toUpperCase(), '-m', '64'];
    expect(qemuDomain(argv)).toEqual({ uuid: A, name: 'a,b' });
  });

  it('ignores a QEMU without -uuid (not started by libvirt)', () => {
    expect(qemuDomain(['qemu-system-x86_64', '-name', 'x'])).toBeUndefined();
  });
});

const running = (uuid: string, name: string): LibvirtDomain => ({ uuid, name, state: 1, reason: 1 });

/** A host's sample; `processes` undefined = no process information (as from a libvirt URI). */
function sample(host: string, domains: LibvirtDomain[], processes?: QemuProcess[], error?: string): HostSample {
  return { host, domains, ...(processes ? { processes } : {}), ...(error ? { error } : {}) };
}

describe('findViolations', () => {
  it('finds none when every domain runs on one host', () => {
    expect(findViolations([sample('h1', [running(A, 'a')]), sample('h2', [running(B, 'b')])])).toEqual([]);
  });

  it('reports a domain running on two hosts, with both hosts', () => {
    const v = findViolations([sample('h2', [running(A, 'a')]), sample('h1', [running(A, 'a'), running(B, 'b')])]);
    expect(v).toEqual([{ uuid: A, name: 'a', hosts: ['h1', 'h2'], instances: 2 }]);
  });

  it("counts libvirt's domain and its own QEMU process as one instance", () => {
    expect(findViolations([sample('h1', [running(A, 'a')], [{ uuid: A, name: 'a', pid: 10 }])])).toEqual([]);
  });

  it('counts two QEMU processes of one domain on one host as two', () => {
    const v = findViolations([sample('h1', [running(A, 'a')], [{ uuid: A, name: 'a', pid: 10 }, { uuid: A, name: 'a', pid: 11 }])]);
    expect(v).toEqual([{ uuid: A, name: 'a', hosts: ['h1', 'h1'], instances: 2 }]);
  });

  it('sees a QEMU whose libvirtd is dead (process only) running beside a restarted copy', () => {
    const dead = sample('h1', [], [{ uuid: A, name: 'a', pid: 10 }], 'failed to connect');
    expect(findViolations([dead, sample('h2', [running(A, 'a')])])).toEqual([{ uuid: A, name: 'a', hosts: ['h1', 'h2'], instances: 2 }]);
  });

  it('does not count a refused start (starting up) or the incoming side of a migration beside the running copy', () => {
    const starting = sample('h2', [{ uuid: A, name: 'a', state: 3, reason: 11 }], [{ uuid: A, name: 'a', pid: 20 }]);
    const incoming = sample('h3', [{ uuid: A, name: 'a', state: 3, reason: 2 }]);
    expect(findViolations([sample('h1', [running(A, 'a')]), starting, incoming])).toEqual([]);
  });

  it('with process information, does not count a domain libvirt listed whose QEMU is gone by the end of the round', () => {
    expect(findViolations([sample('h1', [running(A, 'a')], []), sample('h2', [running(A, 'a')], [{ uuid: A, name: 'a', pid: 7 }])])).toEqual([]);
  });

  it('without process information (a libvirt URI), trusts libvirt', () => {
    const uri = (host: string): HostSample => ({ host, domains: [running(A, 'a')] });
    expect(findViolations([uri('qemu+tls://h1/system'), uri('qemu+tls://h2/system')])).toHaveLength(1);
  });

  it('does not count an unreachable host as a violation', () => {
    expect(findViolations([sample('h1', [], [], 'down'), sample('h2', [running(A, 'a')])])).toEqual([]);
  });
});

describe('checkReport', () => {
  it('lists the active domains of each host with whether they count, and keeps errors', () => {
    const r = checkReport([sample('h1', [running(A, 'a'), { uuid: B, name: 'b', state: 3, reason: 11 }]), sample('h2', [], [], 'unreachable')]);
    expect(r.hosts).toEqual([
      { host: 'h1', domains: [{ uuid: A, name: 'a', running: true }, { uuid: B, name: 'b', running: false }] },
      { host: 'h2', domains: [], error: 'unreachable' },
    ]);
    expect(r.violations).toEqual([]);
  });
});
