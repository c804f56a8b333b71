/**
 * A VM paused on a storage I/O error must reach the operator as state
 * `paused` with reason `ioerror` (issue 5: such VMs are killed after a
 * timeout so they can restart elsewhere), distinct from a pause by the user.
 * virsh prints the reason as "I/O error" (virshDomainPausedReason in
 * libvirt 9.0's tools/virsh-domain-monitor.c); the event detail as "I/O Error".
 */
import { describeDomain } from '../../../../src/agent/vms/describe.js';
import { parseDomState } from '../../../../src/hypervisor/libvirt/parse-domain.js';
import { parseLifecycleLine } from '../../../../src/hypervisor/libvirt/parse-event.js';
import { foreignXml } from '../support/fakes.js';

const UUID = '11111111-2222-4333-8444-555555555555';

function vmFromDomstate(line: string) {
  const { state, reason } = parseDomState(line);
  return describeDomain({ uuid: UUID, name: 'x', state, ...(reason ? { reason } : {}), persistent: true, xml: foreignXml(UUID, 'x') });
}

describe('paused on I/O error', () => {
  it('domstate --reason "paused (I/O error)" → VmInfo state paused, reason ioerror', () => {
    expect(vmFromDomstate('paused (I/O error)\n\n')).toMatchObject({ state: 'paused', reason: 'ioerror', leaseProtected: false });
  });

  it('is told apart from a pause by the user or by a migration', () => {
    expect(vmFromDomstate('paused (user)')).toMatchObject({ state: 'paused', reason: 'user' });
    expect(vmFromDomstate('paused (migrating)')).toMatchObject({ state: 'paused', reason: 'migrating' });
  });

  it('the lifecycle event says the same: suspended / ioerror', () => {
    expect(parseLifecycleLine("2026-11-25 23:49:35.668+0100: event 'lifecycle' for domain 'x': Suspended I/O Error")).toMatchObject({ event: 'suspended', detail: 'ioerror' });
  });
});
