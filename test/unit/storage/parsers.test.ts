/** Pure parsers of the storage side: mountinfo, qemu-img info, metadata. */
import { parseMetadata } from '../../../src/agent/storage/layout.js';
import { parseMountinfo } from '../../../src/agent/storage/mounts.js';
import { parseImageInfo } from '../../../src/agent/storage/qemu-img.js';

describe('parseMountinfo', () => {
  it('reads mount point, type and source, with optional fields and octal escapes', () => {
    const text = [
      '22 27 0:21 / /proc rw,relatime - proc proc rw',
      '25 24 0:23 / /dev/shm rw,relatime shared:4 master:1 - tmpfs tmpfs rw,size=24684092k',
      '42 27 0:39 / /tmp/drvt/with\\040space rw,relatime - tmpfs drvtest rw,size=1024k',
      '90 27 0:50 / /var/lib/drover/mnt/data rw,relatime - nfs4 nfs.example.org:/exports/data rw,vers=4.2',
      '',
    ].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { mountPoint: '/proc', fsType: 'proc', source: 'proc' },
      { mountPoint: '/dev/shm', fsType: 'tmpfs', source: 'tmpfs' },
      { mountPoint: '/tmp/drvt/with space', fsType: 'tmpfs', source: 'drvtest' },
      { mountPoint: '/var/lib/drover/mnt/data', fsType: 'nfs4', source: 'nfs.example.org:/exports/data' },
    ]);
  });
});

describe('parseImageInfo', () => {
  it('reads qemu-img info --output=json (qemu-img 7.2)', () => {
    const json = `{
    "virtual-size": 1048576,
    "filename": "t.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "format-specific": { "type": "qcow2", "data": { "compat": "1.1", "lazy-refcounts": false, "refcount-bits": 16, "corrupt": false, "extended-l2": false } },
    "dirty-flag": false
}`;
    expect(parseImageInfo(json)).toEqual({ format: 'qcow2', virtualSizeBytes: 1048576, actualSizeBytes: 200704 });
    expect(parseImageInfo('{"format":"qcow2","virtual-size":1,"backing-filename":"/x"}').backingFile).toBe('/x');
    expect(() => parseImageInfo('{"format":"qcow2"}')).toThrow();
  });
});

describe('parseMetadata', () => {
  const md = { uuid: '6f1c9a52-3e1b-4b7e-9a57-2d7f0c1e8a01', name: 'data', role: 'Data', version: 1, createdAt: '2026-01-01T00:00:00.000Z' };
  it('reads complete metadata and drops unknown fields', () => {
    expect(parseMetadata(JSON.stringify({ ...md, extra: 1 }))).toEqual(md);
  });
  it('refuses incomplete or foreign metadata', () => {
    expect(() => parseMetadata(JSON.stringify({ ...md, role: 'Export' }))).toThrow();
    expect(() => parseMetadata(JSON.stringify({ uuid: md.uuid }))).toThrow();
    expect(() => parseMetadata('not json')).toThrow();
  });
});
