/**
 * A start refused because another host holds the VM's lease reaches the
 * operator as HTTP 409 with reason LeaseHeld (not a generic 500): the
 * failover logic switches on that reason. The messages are virsh's stderr
 * as captured on the test bed.
 */
import { driverErrorFromVirsh } from '../../../../src/hypervisor/libvirt/errors.js';
import { toApiError } from '../../../../src/agent/server/errors.js';
import { fixture } from '../../hypervisor/fixtures.js';

describe('lease conflicts as agent answers', () => {
  it.each(['err-lease-lockd.txt', 'err-lease-qemu-image-lock.txt', 'err-lease.txt'])('%s → 409 LeaseHeld with libvirt\'s message', (file) => {
    const answer = toApiError(driverErrorFromVirsh(fixture(file), 'fallback'));
    expect(answer.status).toBe(409);
    expect(answer.reason).toBe('LeaseHeld');
    expect(answer.message).toMatch(/is locked|Failed to get "write" lock/);
  });

  it('keeps the lockd key in the message, so the operator can log which lease', () => {
    const answer = toApiError(driverErrorFromVirsh(fixture('err-lease-lockd.txt'), 'fallback'));
    expect(answer.message).toBe(
      "Failed to start domain 'hagy': resource busy: Lockspace resource '22222222-2222-3333-4444-555555555555' is locked",
    );
  });

  it('a start that failed for another reason stays a non-lease error', () => {
    const answer = toApiError(driverErrorFromVirsh(fixture('err-no-bridge.txt'), 'fallback'));
    expect(answer.reason).not.toBe('LeaseHeld');
  });
});
