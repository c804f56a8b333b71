import { generateMac, MAC_PREFIX } from '../../../src/hypervisor/domainxml/mac.js';
import { validateDomainSpec } from '../../../src/hypervisor/domainxml/validate.js';
import { MAC_PATTERN } from '../../../src/hypervisor/domainxml/validate.js';
import { clone, tcgMinimal } from './specs.js';

describe('generateMac', () => {
  it('is deterministic and pinned (changing the algorithm would change every VM’s MAC)', () => {
    const seed = '6f1c9a52-3e1b-4b7e-9a57-2d7f0c1e8a01/default';
    expect(generateMac(seed)).toBe(generateMac(seed));
    expect(generateMac(seed)).toBe('52:54:00:68:69:4c');
  });

  it('uses the 52:54:00 prefix, lower-case colon form', () => {
    const mac = generateMac('vm/nic0');
    expect(mac.startsWith(`${MAC_PREFIX}:`)).toBe(true);
    expect(mac).toMatch(MAC_PATTERN);
  });

  it('is unicast and locally administered', () => {
    const first = parseInt(generateMac('anything').slice(0, 2), 16);
    expect(first & 0b01).toBe(0); // I/G bit clear: unicast
    expect(first & 0b10).toBe(0b10); // U/L bit set: locally administered
  });

  it('spreads different seeds over different MACs', () => {
    const macs = new Set(Array.from({ length: 200 }, (_, i) => generateMac(`uid-${i}/eth0`)));
    expect(macs.size).toBe(200);
    expect(generateMac('a/eth0')).not.toBe(generateMac('a/eth1'));
  });

  it('passes validateDomainSpec', () => {
    const spec = clone(tcgMinimal);
    spec.interfaces[0]!.mac = generateMac(`${spec.uid}/default`);
    expect(validateDomainSpec(spec)).toEqual([]);
  });
});
