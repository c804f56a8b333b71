/**
 * argv for `virsh migrate`, built from {@link MigrationOptions}. Pure.
 *
 * @packageDocumentation
 */
import { DriverError, type MigrationOptions } from '../driver.js';

/** Same URI rule as the connection URI (see virsh.ts): never something virsh could read as an option. */
const URI_PATTERN = /^[a-z][a-z0-9+]*:\/\/[^\s]+$/;

function positiveInt(name: string, v: number): string {
  if (!Number.isInteger(v) || v < 0) throw new DriverError('InvalidSpec', `${name} must be a non-negative integer, got ${v}`);
  return String(v);
}

/**
 * `virsh migrate` arguments for a live, peer-to-peer migration that moves
 * the definition with the domain:
 * - `--p2p`: the source libvirtd talks to the destination itself, so the
 *   migration survives the agent (virsh) disappearing midway;
 * - `--persistent --undefinesource`: the domain ends up defined on exactly
 *   one host (libvirt rolls back when the migration fails);
 * - `--abort-on-error`: a soft error (e.g. a disk I/O error pausing the
 *   guest) aborts instead of completing into a broken destination.
 *
 * `timeoutSeconds` and `maxDowntimeMs` are not virsh migrate flags here:
 * virsh's `--timeout` suspends the guest by default instead of aborting, so
 * the driver enforces the timeout with `domjobabort`, and sets the downtime
 * with `migrate-setmaxdowntime` before starting.
 */
export function buildMigrateArgs(uuid: string, options: MigrationOptions): string[] {
  if (!URI_PATTERN.test(options.destinationURI)) {
    throw new DriverError('InvalidSpec', `not a libvirt URI: ${JSON.stringify(options.destinationURI)}`);
  }
  const args = ['migrate', '--live', '--p2p', '--persistent', '--undefinesource', '--abort-on-error'];
  if (options.autoConverge) args.push('--auto-converge');
  if (options.compressed) args.push('--compressed');
  if (options.bandwidthMiBps !== undefined && options.bandwidthMiBps > 0) {
    args.push('--bandwidth', positiveInt('bandwidthMiBps', options.bandwidthMiBps));
  }
  if (options.unsafe) args.push('--unsafe');
  args.push('--domain', uuid, '--desturi', options.destinationURI);
  return args;
}
