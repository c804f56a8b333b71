/** Name, path and connection checks of the storage verbs. */
import { checkAbsolutePath, checkConnection, checkName, checkUuid, sameConnection } from '../../../src/agent/storage/names.js';

describe('storage name checks', () => {
  it('accepts DNS-1123 labels only', () => {
    for (const ok of ['a', 'data-1', '0', 'a'.repeat(63)]) expect(checkName('x', ok)).toBe(ok);
    for (const bad of ['', 'A', 'a_b', 'a.b', '-a', 'a-', '../a', 'a/b', 'a'.repeat(64), ' a']) {
      expect(() => checkName('x', bad)).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
    }
  });

  it('accepts lower-case UUIDs only', () => {
    expect(checkUuid('6f1c9a52-3e1b-4b7e-9a57-2d7f0c1e8a01')).toBe('6f1c9a52-3e1b-4b7e-9a57-2d7f0c1e8a01');
    for (const bad of ['6F1C9A52-3E1B-4B7E-9A57-2D7F0C1E8A01', '6f1c9a52', '../../etc']) {
      expect(() => checkUuid(bad)).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
    }
  });

  it('accepts normalised absolute paths only', () => {
    expect(checkAbsolutePath('p', '/srv/data')).toBe('/srv/data');
    expect(checkAbsolutePath('p', '/')).toBe('/');
    for (const bad of ['srv', '/srv/../etc', '/srv/./x', '/srv//x', '/srv/', '/srv/\nx', '']) {
      expect(() => checkAbsolutePath('p', bad)).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
    }
  });
});

describe('checkConnection', () => {
  it('accepts the three types', () => {
    expect(() => checkConnection({ type: 'LocalFS', path: '/srv/local' })).not.toThrow();
    expect(() => checkConnection({ type: 'PosixFS', path: '/srv/gluster', vfsType: 'glusterfs', mountOptions: 'backup-volfile-servers=h2:h3' })).not.toThrow();
    expect(() => checkConnection({ type: 'NFS', server: 'nfs.example.org', path: '/exports/data', mountOptions: 'vers=4.2,soft' })).not.toThrow();
    expect(() => checkConnection({ type: 'NFS', server: 'fd00::12', path: '/exports/data' })).not.toThrow();
  });

  it('refuses options, types and servers that could smuggle arguments', () => {
    const bad = [
      { type: 'PosixFS', path: '/srv/x', mountOptions: 'rw,exec -o remount' },
      { type: 'PosixFS', path: '/srv/x', vfsType: 'ext4 --bind' },
      { type: 'NFS', server: '-oexec', path: '/e' },
      { type: 'NFS', server: 'h', path: 'relative' },
      { type: 'NFS', server: 'h', path: '/e', mountOptions: '' },
      { type: 'iSCSI', path: '/x' },
    ];
    for (const c of bad) expect(() => checkConnection(c as never)).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
  });

  it('compares connections by content', () => {
    expect(sameConnection({ type: 'LocalFS', path: '/a' }, { type: 'LocalFS', path: '/a' })).toBe(true);
    expect(sameConnection({ type: 'LocalFS', path: '/a' }, { type: 'PosixFS', path: '/a' })).toBe(false);
    expect(sameConnection({ type: 'NFS', server: 's', path: '/a' }, { type: 'NFS', server: 's', path: '/a', mountOptions: 'soft' })).toBe(false);
  });
});
