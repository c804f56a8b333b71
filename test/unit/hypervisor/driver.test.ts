/**
 * LibvirtDriver's own logic around virsh, with a stand-in virsh: argv
 * shapes, the private temporary file of define(), refusals that must not
 * reach virsh, and error mapping. The real thing is tested in
 * test/integration/libvirt-driver.test.ts.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { LibvirtDriver } from '../../../src/hypervisor/libvirt/driver.js';
import { fakeVirsh, type FakeVirsh } from './fake-virsh.js';
import { fixturePath } from './fixtures.js';

const UUID = '11111111-2222-4333-8444-555555555555';
const XML = `<domain type='qemu'><name>vm1</name><uuid>${UUID}</uuid></domain>`;

describe('LibvirtDriver (stand-in virsh)', () => {
  let fake: FakeVirsh;
  let driver: LibvirtDriver;
  const calls = async (): Promise<string[]> => (existsSync(fake.log) ? (await readFile(fake.log, 'utf8')).trim().split('\n').filter(Boolean) : []);

  beforeEach(async () => {
    fake = await fakeVirsh(
      [
        // define: record the temp file's and its directory's modes and keep a copy.
        `*" define --file "*) stat -c '%a' "$last" >> "$DIR/modes"; stat -c '%a' "$(dirname "$last")" >> "$DIR/modes"; cp "$last" "$DIR/defined.xml"; echo "$last" > "$DIR/file" ;;`,
        `*" domstate --reason --domain ${UUID}"*) echo 'running (booted)' ;;`,
        `*" start --domain ${UUID}"*) echo 'error: Failed to start domain' >&2; echo 'error: Requested operation is not valid: domain is already running' >&2; exit 1 ;;`,
        `*" dominfo "*) echo "error: failed to get domain '$last'" >&2; exit 1 ;;`,
        `*" list --all --uuid"*) echo ;;`,
        `*" capabilities"*) cat '${fixturePath('capabilities.xml')}' ;;`,
        `*" nodeinfo"*) cat '${fixturePath('nodeinfo.txt')}' ;;`,
        `*" version"*) cat '${fixturePath('version.txt')}' ;;`,
        `*" domcapabilities"*) cat '${fixturePath('domcaps-kvm.xml')}' ;;`,
      ].join('\n'),
    );
    driver = new LibvirtDriver({ uri: 'test:///default', virshBinary: fake.binary, acceleration: 'tcg' });
  });

  afterEach(async () => {
    await rm(fake.dir, { recursive: true, force: true });
  });

  it('defines from a private temporary file that is gone afterwards', async () => {
    await driver.define(XML);
    expect(await readFile(`${fake.dir}/defined.xml`, 'utf8')).toBe(XML);
    expect((await readFile(`${fake.dir}/modes`, 'utf8')).split('\n').slice(0, 2)).toEqual(['600', '700']);
    const file = (await readFile(`${fake.dir}/file`, 'utf8')).trim();
    expect(file).toMatch(/drover-define-[^/]+\/domain\.xml$/);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(file.replace(/\/domain\.xml$/, ''))).toBe(false);
    expect(await calls()).toEqual([`-q -c test:///default define --file ${file}`]);
  });

  it('refuses XML without a UUID and malformed UUIDs before running virsh', async () => {
    await expect(driver.define('<domain><name>x</name></domain>')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    for (const bad of ['--all', 'vm1', `${UUID} --force`, '']) {
      await expect(driver.destroy(bad)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    }
    expect(await calls()).toEqual([]);
    expect(() => new LibvirtDriver({ uri: '-c' })).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
  });

  it('addresses domains by lower-case UUID with --domain', async () => {
    await expect(driver.start(UUID.toUpperCase())).rejects.toMatchObject({ kind: 'Conflict', message: expect.stringContaining('already running') });
    expect(await calls()).toEqual([`-q -c test:///default start --domain ${UUID}`]);
  });

  it('refuses to undefine a running domain (it would turn transient and vanish untracked)', async () => {
    await expect(driver.undefine(UUID)).rejects.toMatchObject({ kind: 'Conflict' });
    expect((await calls()).some((c) => c.includes('undefine'))).toBe(false);
  });

  it('maps "failed to get domain" to undefined in get() and an empty list to []', async () => {
    expect(await driver.get(UUID)).toBeUndefined();
    expect(await driver.list()).toEqual([]);
  });

  it('reports TCG when asked to, without probing KVM, with the CPU models usable under TCG', async () => {
    const caps = await driver.capabilities();
    expect(caps).toMatchObject({ hostUUID: '245304c2-9177-4955-91d2-7b4a85bc4ea2', hypervisorType: 'qemu', memoryBytes: 9922772 * 1024 });
    const domcaps = (await calls()).filter((c) => c.includes('domcapabilities'));
    expect(domcaps).toEqual(['-q -c test:///default domcapabilities --virttype qemu']);
    expect(caps.cpuModels).toEqual(['486', 'pentium', 'pentium2', 'pentium3']);
  });

  it('requires an openable KVM device for kvm', async () => {
    const noKvm = new LibvirtDriver({ uri: 'test:///default', virshBinary: fake.binary, acceleration: 'kvm', kvmDevice: `${fake.dir}/no-such-kvm` });
    await expect(noKvm.capabilities()).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('no-such-kvm') });
    const auto = new LibvirtDriver({ uri: 'test:///default', virshBinary: fake.binary, kvmDevice: `${fake.dir}/no-such-kvm` });
    expect((await auto.capabilities()).hypervisorType).toBe('qemu');
    // A device that opens, and libvirt describing kvm: KVM.
    const withDev = new LibvirtDriver({ uri: 'test:///default', virshBinary: fake.binary, kvmDevice: fake.log });
    expect((await withDev.capabilities()).hypervisorType).toBe('kvm');
  });

  it('maps a missing virsh to Unavailable', async () => {
    const missing = new LibvirtDriver({ uri: 'test:///default', virshBinary: `${fake.dir}/no-virsh` });
    await expect(missing.list()).rejects.toMatchObject({ kind: 'Unavailable' });
  });
});
