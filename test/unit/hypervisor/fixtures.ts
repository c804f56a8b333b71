/** Reads virsh output captured on Debian 12 (libvirt 9.0.0, QEMU 7.2) from fixtures/. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Content of `test/unit/hypervisor/fixtures/<name>`. */
export function fixture(name: string): string {
  return readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');
}

/** Absolute path of a fixture file. */
export function fixturePath(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name);
}
