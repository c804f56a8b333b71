/**
 * Error classification: messages captured from virsh on the test bed, plus
 * lock-manager messages as libvirt's lockd and sanlock drivers word them
 * (no sanlock on these machines, so those are quoted, not captured).
 */
import { DriverError } from '../../../src/hypervisor/driver.js';
import { classifyLibvirtError, cleanVirshMessage, driverErrorFromVirsh } from '../../../src/hypervisor/libvirt/errors.js';
import { fixture } from './fixtures.js';

describe('classifyLibvirtError on captured virsh errors', () => {
  it.each([
    ['err-notfound.txt', 'NotFound'],
    ['err-already-running.txt', 'Conflict'],
    ['err-not-running.txt', 'Conflict'],
    ['err-abort-nojob.txt', 'Conflict'],
    ['err-name-exists.txt', 'Conflict'],
    ['err-lease.txt', 'LeaseHeld'],
    ['err-lease-lockd.txt', 'LeaseHeld'],
    ['err-lease-qemu-image-lock.txt', 'LeaseHeld'],
    ['err-bad-machine.txt', 'InvalidSpec'],
    ['err-xml.txt', 'InvalidSpec'],
    ['err-missing-disk.txt', 'InvalidSpec'],
    ['err-cpu-unknown-model.txt', 'InvalidSpec'],
    ['err-cpu-incompatible.txt', 'InvalidSpec'],
    ['err-connect.txt', 'Unavailable'],
    ['err-migrate-unreachable.txt', 'Unavailable'],
    ['err-no-bridge.txt', 'Failed'],
  ])('%s → %s', (file, kind) => {
    const err = driverErrorFromVirsh(fixture(file), 'fallback');
    expect(err).toBeInstanceOf(DriverError);
    expect(err.kind).toBe(kind);
  });
});

describe('classifyLibvirtError on lock-manager wording', () => {
  it.each([
    'resource busy: Lockspace resource \'/var/lib/libvirt/images/a.qcow2\' is locked',
    'Failed to acquire lock: File in use',
    'resource busy: Failed to acquire lock: Lease is held by another host',
    'internal error: process exited while connecting to monitor: Failed to get "write" lock',
    'Failed to get shared "write" lock',
  ])('%s → LeaseHeld', (message) => {
    expect(classifyLibvirtError(message)).toBe('LeaseHeld');
  });

  it('does not mistake other failures for leases', () => {
    expect(classifyLibvirtError('Domain not found: no domain with matching uuid')).toBe('NotFound');
    expect(classifyLibvirtError('unsupported configuration: emulator does not support machine type')).toBe('InvalidSpec');
    expect(classifyLibvirtError('operation aborted: job \'migration out\' canceled by client')).toBe('Failed');
  });
});

describe('cleanVirshMessage', () => {
  it('drops "error:" prefixes and virsh\'s parser caret lines', () => {
    expect(cleanVirshMessage(fixture('err-xml.txt'))).toBe(
      'Failed to define domain from broken.xml: (domain_definition):2: Premature end of data in tag domain line 1',
    );
    expect(cleanVirshMessage(fixture('err-notfound.txt'))).toBe("failed to get domain 'nonexist'");
  });
});
