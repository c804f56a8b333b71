/** argv of `virsh migrate` from MigrationOptions. */
import { buildMigrateArgs } from '../../../src/hypervisor/libvirt/migrate-args.js';

const UUID = '11111111-2222-4333-8444-555555555555';

describe('buildMigrateArgs', () => {
  it('always migrates live, peer to peer, moving the definition', () => {
    expect(buildMigrateArgs(UUID, { destinationURI: 'qemu+tcp://10.0.0.12/system' })).toEqual([
      'migrate',
      '--live',
      '--p2p',
      '--persistent',
      '--undefinesource',
      '--abort-on-error',
      '--domain',
      UUID,
      '--desturi',
      'qemu+tcp://10.0.0.12/system',
    ]);
  });

  it('adds the knobs that are set', () => {
    const args = buildMigrateArgs(UUID, {
      destinationURI: 'qemu+tls://h2/system',
      bandwidthMiBps: 100,
      autoConverge: true,
      compressed: true,
      unsafe: true,
      timeoutSeconds: 30,
      maxDowntimeMs: 300,
    });
    expect(args).toEqual(expect.arrayContaining(['--auto-converge', '--compressed', '--unsafe']));
    expect(args.slice(args.indexOf('--bandwidth'), args.indexOf('--bandwidth') + 2)).toEqual(['--bandwidth', '100']);
    // Timeout and downtime are handled by the driver, not by virsh migrate flags.
    expect(args).not.toContain('--timeout');
    expect(buildMigrateArgs(UUID, { destinationURI: 'qemu:///system', bandwidthMiBps: 0 })).not.toContain('--bandwidth');
  });

  it('refuses destination URIs virsh could read as options, and bad numbers', () => {
    for (const uri of ['--help', '', 'qemu+tcp://h2/system --unsafe', 'h2']) {
      expect(() => buildMigrateArgs(UUID, { destinationURI: uri })).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
    }
    expect(() => buildMigrateArgs(UUID, { destinationURI: 'qemu:///system', bandwidthMiBps: 1.5 })).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
  });
});
