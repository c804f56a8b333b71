/** Per-domain virsh parsers against output captured from test-bed hosts. */
import {
  domainXmlUuid,
  parseDomInfo,
  parseDomState,
  parseJobInfoRaw,
  parseStateWord,
  parseUuidList,
  parseUuidNameList,
  slug,
} from '../../../src/hypervisor/libvirt/parse-domain.js';
import { fixture } from './fixtures.js';

describe('parseDomState', () => {
  it.each([
    ['domstate-running.txt', { state: 'running', reason: 'booted' }],
    ['domstate-shutoff.txt', { state: 'shut off', reason: 'unknown' }],
    ['domstate-destroyed.txt', { state: 'shut off', reason: 'destroyed' }],
    ['domstate-crashed.txt', { state: 'shut off', reason: 'crashed' }],
    ['domstate-paused.txt', { state: 'paused', reason: 'user' }],
    ['domstate-migrated-in.txt', { state: 'running', reason: 'migrated' }],
  ])('%s', (file, expected) => {
    expect(parseDomState(fixture(file))).toEqual(expected);
  });

  it('maps virsh words to the enum names and normalises reasons', () => {
    expect(parseDomState('idle (unknown)\n')).toEqual({ state: 'blocked', reason: 'unknown' });
    expect(parseDomState('in shutdown (user)')).toEqual({ state: 'shutdown', reason: 'user' });
    expect(parseDomState('paused (I/O error)')).toEqual({ state: 'paused', reason: 'ioerror' });
    expect(parseDomState('paused (starting up)')).toEqual({ state: 'paused', reason: 'starting-up' });
    expect(parseDomState('shut off')).toEqual({ state: 'shut off' });
    expect(() => parseDomState('exploded (yes)')).toThrow(/unknown domain state/);
    expect(parseStateWord('no state')).toBe('no state');
    expect(slug('from snapshot')).toBe('from-snapshot');
  });
});

describe('parseDomInfo', () => {
  it('reads a running and a stopped domain', () => {
    expect(parseDomInfo(fixture('dominfo-running.txt'))).toEqual({
      name: 'vm1',
      uuid: '11111111-2222-4333-8444-555555555555',
      state: 'running',
      persistent: true,
    });
    expect(parseDomInfo(fixture('dominfo-shutoff.txt'))).toMatchObject({ state: 'shut off', persistent: true });
    expect(parseDomInfo(fixture('dominfo-shutoff.txt').replace('Persistent:     yes', 'Persistent:     no')).persistent).toBe(false);
  });

  it('refuses output without identity', () => {
    expect(() => parseDomInfo('State: running\n')).toThrow(/Name/);
  });
});

describe('list parsers', () => {
  it('reads UUIDs, one a line, ignoring the trailing blank line', () => {
    expect(parseUuidList(fixture('list-uuid.txt'))).toEqual(['11111111-2222-4333-8444-555555555555']);
    expect(parseUuidList('\n')).toEqual([]);
  });

  it('reads "uuid name" pairs, names with spaces included', () => {
    expect(parseUuidNameList(fixture('list-uuid-name.txt'))).toEqual(new Map([['vm2', '11111111-2222-4333-8444-555555555556']]));
    expect(parseUuidNameList('11111111-2222-4333-8444-555555555557 my vm \n\n').get('my vm')).toBe('11111111-2222-4333-8444-555555555557');
  });
});

describe('parseJobInfoRaw', () => {
  it('reads a running outgoing migration exactly (raw stats, not rounded MiB)', () => {
    expect(parseJobInfoRaw(fixture('domjobinfo-running-raw.txt'))).toEqual({
      type: 'unbounded',
      operation: 'migration-out',
      elapsedMs: 1545,
      dataTotalBytes: 269230080,
      dataProcessedBytes: 18905866,
      dataRemainingBytes: 247242752,
      memoryIteration: 1,
    });
  });

  it('reads a completed incoming migration and an idle domain', () => {
    expect(parseJobInfoRaw(fixture('domjobinfo-completed-raw.txt'))).toMatchObject({ type: 'completed', operation: 'migration-in', dataRemainingBytes: 0 });
    expect(parseJobInfoRaw(fixture('domjobinfo-none-raw.txt'))).toEqual({ type: 'none' });
  });

  it('refuses output without a job type', () => {
    expect(() => parseJobInfoRaw(fixture('domjobinfo-none.txt'))).toThrow();
    expect(() => parseJobInfoRaw('Job type: 9\n')).toThrow(/unknown job type/);
  });
});

describe('domainXmlUuid', () => {
  it('finds the top-level uuid only', () => {
    expect(domainXmlUuid("<domain type='qemu'><name>x</name><uuid>AAAAAAAA-2222-4333-8444-555555555555</uuid></domain>")).toBe(
      'aaaaaaaa-2222-4333-8444-555555555555',
    );
    expect(domainXmlUuid("<domain><metadata><x><uuid>nested</uuid></x></metadata></domain>")).toBeUndefined();
    expect(domainXmlUuid('<domain')).toBeUndefined();
  });
});
