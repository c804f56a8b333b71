/** list() inspects every domain in one batched request (a session round trip): its output parsing, against libvirt's test driver. */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { LibvirtDriver } from '../../../src/hypervisor/libvirt/index.js';

const hasVirsh = (() => {
  try {
    execFileSync('virsh', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe('LibvirtDriver.list (batched)', () => {
  it('returns every domain with state, reason, persistence and XML from two requests', async () => {
    // libvirt's built-in test driver (no daemon) has one running domain "test".
    expect(hasVirsh).toBe(true);
    const driver = new LibvirtDriver({ uri: 'test:///default' });
    const all = await driver.list();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ name: 'test', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', state: 'running', persistent: true });
    expect(all[0]!.xml).toMatch(/^<domain type=.test.>[\s\S]*<\/domain>\n$/);
    // The same facts as the one-domain path.
    const one = await driver.get('6695eb01-f6a4-8304-79aa-97f2502e193f');
    expect(all[0]).toEqual(one);
    // And names() is the same domain's UUID and name from one listing.
    expect(await driver.names()).toEqual([{ uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', name: 'test' }]);
    await driver.close();
  });
});
