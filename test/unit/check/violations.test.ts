/** The pure half of the invariant checker: parsing what hosts report, and counting instances. */
import { findViolations, parseVirshList, qemuDomain, type HostSample } from '../../../src/check/index.js';
import { checkReport } from '../../../src/cli/check-command.js';

const A = '6f1b8a52-1111-4c2e-9d1e-0123456789ab';
const B = '0b5c9f7e-2222-4c2e-9d1e-0123456789ab';

describe('parseVirshList', () => {
  it('reads "<uuid> <name>" lines and skips blank ones', () => {
    const text = `${A} web-1\n${B.toUpperCase()} db with space\n\n`;
    expect(parseVirshList(text)).toEqual([
      { uuid: A, name: 'web-1', source: 'libvirt' },
      { uuid: B, name: 'db with space', source: 'libvirt' },
    ]);
  });

  it('returns nothing for an empty list', () => {
    expect(parseVirshList('\n')).toEqual([]);
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

function sample(host: string, ...instances: HostSample['instances']): HostSample {
  return { host, instances };
}

describe('findViolations', () => {
  it('finds none when every domain runs on one host', () => {
    expect(findViolations([sample('h1', { uuid: A, name: 'a', source: 'libvirt' }), sample('h2', { uuid: B, name: 'b', source: 'libvirt' })])).toEqual([]);
  });

  it('reports a domain active on two hosts, with both hosts', () => {
    const v = findViolations([
      sample('h2', { uuid: A, name: 'a', source: 'libvirt' }),
      sample('h1', { uuid: A, name: 'a', source: 'libvirt' }, { uuid: B, name: 'b', source: 'libvirt' }),
    ]);
    expect(v).toEqual([{ uuid: A, name: 'a', hosts: ['h1', 'h2'], instances: 2 }]);
  });

  it('counts libvirt and its own QEMU process on one host as one instance', () => {
    expect(findViolations([sample('h1', { uuid: A, name: 'a', source: 'libvirt' }, { uuid: A, name: 'a', source: { pid: 10 } })])).toEqual([]);
  });

  it('counts two QEMU processes of one domain on one host as two', () => {
    const v = findViolations([sample('h1', { uuid: A, name: 'a', source: 'libvirt' }, { uuid: A, name: '', source: { pid: 10 } }, { uuid: A, name: 'a', source: { pid: 11 } })]);
    expect(v).toEqual([{ uuid: A, name: 'a', hosts: ['h1', 'h1'], instances: 2 }]);
  });

  it('sees a QEMU whose libvirtd is dead (process only) running beside a restarted copy', () => {
    const dead: HostSample = { host: 'h1', instances: [{ uuid: A, name: 'a', source: { pid: 10 } }], error: 'failed to connect' };
    expect(findViolations([dead, sample('h2', { uuid: A, name: 'a', source: 'libvirt' })])).toHaveLength(1);
  });

  it('does not count an unreachable host as a violation', () => {
    expect(findViolations([{ host: 'h1', instances: [], error: 'down' }, sample('h2', { uuid: A, name: 'a', source: 'libvirt' })])).toEqual([]);
  });
});

describe('checkReport', () => {
  it('lists each domain once per host and keeps errors', () => {
    const r = checkReport([
      sample('h1', { uuid: A, name: 'a', source: 'libvirt' }, { uuid: A, name: 'a', source: { pid: 3 } }),
      { host: 'h2', instances: [], error: 'unreachable' },
    ]);
    expect(r).toEqual({ hosts: [{ host: 'h1', domains: [{ uuid: A, name: 'a' }] }, { host: 'h2', domains: [], error: 'unreachable' }], violations: [] });
  });
});
