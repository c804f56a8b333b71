/** `virsh event` lines captured during start/stop/kill/suspend and a live migration. */
import { parseLifecycleLine } from '../../../src/hypervisor/libvirt/parse-event.js';
import { fixture } from './fixtures.js';

const parseAll = (text: string) => text.split('\n').map(parseLifecycleLine).filter((l) => l !== undefined);

describe('parseLifecycleLine', () => {
  it('parses a full lifecycle, kill -9 included', () => {
    const lines = parseAll(fixture('events-lifecycle.txt'));
    expect(lines.map((l) => `${l.event}/${l.detail}`)).toEqual([
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'stopped/shutdown',
      'resumed/unpaused',
      'started/booted',
      'stopped/failed',
      'resumed/unpaused',
      'started/booted',
      'shutdown/host',
      'stopped/destroyed',
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'resumed/unpaused',
      'undefined/removed',
      'shutdown/host',
      'stopped/destroyed',
    ]);
    expect(new Set(lines.map((l) => l.name))).toEqual(new Set(['vm1']));
  });

  it('turns libvirt timestamps into ISO UTC', () => {
    const l = parseLifecycleLine("2026-11-25 22:49:35.668+0000: event 'lifecycle' for domain 'vm1': Stopped Failed");
    expect(l).toEqual({ time: '2026-11-25T22:49:35.668Z', name: 'vm1', event: 'stopped', detail: 'failed' });
    expect(parseLifecycleLine("2026-11-25 23:49:35.668+0100: event 'lifecycle' for domain 'a': Suspended I/O Error")).toMatchObject({
      time: '2026-11-25T22:49:35.668Z',
      detail: 'ioerror',
    });
  });

  it('keeps only lifecycle events of a migration there and back (no iterations, no job-completed blocks)', () => {
    expect(parseAll(fixture('events-all-migration-source.txt')).map((l) => `${l.event}/${l.detail}`)).toEqual([
      'suspended/migrated',
      'stopped/migrated',
      'started/migrated',
      'defined/added',
      'resumed/migrated',
    ]);
    expect(parseAll(fixture('events-all-migration-dest.txt')).map((l) => `${l.event}/${l.detail}`)).toEqual([
      'started/migrated',
      'defined/added',
      'resumed/migrated',
      'suspended/migrated',
      'stopped/migrated',
    ]);
  });

  it('ignores anything else', () => {
    for (const line of ['', 'events received: 3', "\toperation: 5", "error: failed to get domain 'vm1'", "2026-11-25 22:50:12.951+0000: event 'migration-iteration' for domain 'vm2': iteration: '1'"]) {
      expect(parseLifecycleLine(line)).toBeUndefined();
    }
  });
});
