/** The whole-VM `<lease>`: rendered where libvirt writes it, and refused when a name could become a path. */
import { buildDomainXml, computeSpecHash, validateDomainSpec } from '../../../src/hypervisor/domainxml/index.js';
import { clone, tcgKernelOnlyLease, tcgMinimal } from './specs.js';

describe('<lease>', () => {
  it('is written after the controllers, as libvirt orders devices', () => {
    const xml = buildDomainXml(tcgKernelOnlyLease);
    expect(xml.indexOf('<lease>')).toBeGreaterThan(xml.indexOf('<controller'));
    expect(xml.indexOf('<lease>')).toBeLessThan(xml.indexOf('<interface'));
    expect(xml).toContain('<target path="/srv/drover/shared"/>');
  });

  it('is absent unless asked for', () => {
    expect(buildDomainXml(tcgMinimal)).not.toContain('<lease>');
  });

  it('changes the spec hash, so a host that gains a lock manager redefines its VMs', () => {
    const without = clone(tcgKernelOnlyLease);
    delete without.lease;
    expect(computeSpecHash(without)).not.toBe(computeSpecHash(tcgKernelOnlyLease));
  });

  it.each([
    ['lockspace', { lockspace: '../etc', key: 'k', targetPath: '/srv' }],
    ['lockspace', { lockspace: 'a/b', key: 'k', targetPath: '/srv' }],
    ['key', { lockspace: 'ls', key: '..', targetPath: '/srv' }],
    ['key', { lockspace: 'ls', key: '', targetPath: '/srv' }],
    ['targetPath', { lockspace: 'ls', key: 'k', targetPath: 'relative' }],
    ['targetPath', { lockspace: 'ls', key: 'k', targetPath: '/srv/../etc' }],
  ])('refuses a bad %s', (field, lease) => {
    const spec = clone(tcgKernelOnlyLease);
    spec.lease = lease;
    expect(validateDomainSpec(spec).some((e) => e.startsWith(`lease.${field}`))).toBe(true);
  });
});
