/**
 * The hosted-engine state machine, pure: every rule of state-machine.ts,
 * decision by decision, with explicit clocks. State names come from the
 * agent API's HOSTED_ENGINE_STATES.
 */
import { HOSTED_ENGINE_STATES } from '../../../src/api/agent/hosted-engine.js';
import {
  bestCandidate,
  decide,
  initialMemory,
  noteMigrationFailed,
  noteStartRefused,
  type DecisionInput,
  type Memory,
  type PeerView,
} from '../../../src/agent/hosted-engine/state-machine.js';
import { DEFAULT_TIMINGS } from '../../../src/agent/hosted-engine/timings.js';

const T = DEFAULT_TIMINGS;
const INIT_DONE = 2 * T.metadataIntervalMs;

function peer(over: Partial<PeerView> = {}): PeerView {
  return { name: 'node-2', score: 3400, state: 'EngineDown', live: true, localMaintenance: false, engineRunning: false, engineHealth: 'unknown', ...over };
}

function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    now: 100_000,
    name: 'node-1',
    rawScore: 3400,
    localMaintenance: false,
    globalMaintenance: false,
    engine: 'down',
    health: 'unknown',
    peers: [peer()],
    timings: T,
    ...over,
  };
}

const mem = (state: Memory['state'], over: Partial<Memory> = {}): Memory => ({ state, since: 0, ...over });

describe('hosted-engine state machine', () => {
  it('only uses state names of the agent API', () => {
    const states = new Set<string>();
    const cases: [Partial<DecisionInput>, Memory][] = [
      [{}, mem('EngineDown')],
      [{ engine: 'running', health: 'good' }, mem('EngineDown')],
      [{ engine: 'running', health: 'bad' }, mem('EngineUp')],
      [{ globalMaintenance: true }, mem('EngineUp')],
      [{ localMaintenance: true }, mem('EngineUp')],
      [{ localMaintenance: true, engine: 'running' }, mem('EngineUp')],
      [{ peers: [peer({ engineRunning: true })] }, mem('EngineDown')],
      [{}, mem('EngineUp')],
      [{ engine: 'migrating' }, mem('EngineUp')],
      [{ engine: 'running' }, mem('EngineStart', { startedAt: 99_000 })],
    ];
    for (const [i, m] of cases) states.add(decide(input(i), m).memory.state);
    for (const s of states) expect(HOSTED_ENGINE_STATES).toContain(s);
    expect(states.size).toBeGreaterThan(8);
  });

  describe('Initializing', () => {
    it('waits two metadata intervals before acting, so it has read every live node once', () => {
      const m = initialMemory(0);
      expect(decide(input({ now: INIT_DONE - 1, peers: [] }), m)).toMatchObject({ memory: { state: 'Initializing' }, action: { kind: 'none' } });
      expect(decide(input({ now: INIT_DONE, peers: [] }), m)).toMatchObject({ memory: { state: 'EngineStart' }, action: { kind: 'start' } });
    });

    it('takes over monitoring at once when the VM already runs here, with the start timeout as grace', () => {
      const d = decide(input({ now: 10, engine: 'running', health: 'bad' }), initialMemory(0));
      expect(d).toMatchObject({ memory: { state: 'EngineStarting', startedAt: 10 }, action: { kind: 'none' } });
    });
  });

  describe('starting the VM', () => {
    it('the best-scored live node starts it when it runs nowhere', () => {
      const d = decide(input({ rawScore: 3400, peers: [peer({ score: 2400 })] }), mem('EngineDown'));
      expect(d.action).toEqual({ kind: 'start' });
      expect(d.memory).toMatchObject({ state: 'EngineStart', startedAt: 100_000 });
    });

    it('a worse-scored node does not', () => {
      const d = decide(input({ rawScore: 2400, peers: [peer({ score: 3400 })] }), mem('EngineDown'));
      expect(d).toMatchObject({ memory: { state: 'EngineDown' }, action: { kind: 'none' } });
    });

    it('breaks ties by name, the same way on every node', () => {
      expect(decide(input({ name: 'node-1', peers: [peer({ name: 'node-2' })] }), mem('EngineDown')).action.kind).toBe('start');
      expect(decide(input({ name: 'node-2', peers: [peer({ name: 'node-1' })] }), mem('EngineDown')).action.kind).toBe('none');
    });

    it('ignores dead nodes: their better score does not count', () => {
      const d = decide(input({ rawScore: 1800, peers: [peer({ score: 3400, live: false })] }), mem('EngineDown'));
      expect(d.action.kind).toBe('start');
    });

    it('ignores peers in local maintenance and peers scoring 0', () => {
      expect(decide(input({ rawScore: 1000, peers: [peer({ localMaintenance: true, score: 3400 })] }), mem('EngineDown')).action.kind).toBe('start');
      expect(decide(input({ name: 'node-9', peers: [peer({ name: 'node-1', score: 0 })] }), mem('EngineDown')).action.kind).toBe('start');
    });

    it('does not start while a live node reports the VM running', () => {
      const d = decide(input({ peers: [peer({ engineRunning: true, score: 100 })] }), mem('EngineDown'));
      expect(d).toMatchObject({ memory: { state: 'EngineDownElsewhere' }, action: { kind: 'none' } });
    });

    it('starts when the node that reported it running is dead (host-alive timeout passed)', () => {
      const d = decide(input({ peers: [peer({ engineRunning: true, live: false, name: 'node-0' })] }), mem('EngineDownElsewhere'));
      expect(d.action.kind).toBe('start');
    });

    it('a node with score 0 never starts, even alone', () => {
      expect(decide(input({ rawScore: 0, peers: [] }), mem('EngineDown')).action.kind).toBe('none');
    });

    it('backs off after a refused start instead of retrying every cycle', () => {
      const refused = noteStartRefused(mem('EngineStart', { startedAt: 99_000 }), 100_000);
      expect(decide(input({ now: 100_000 + T.startRetryMs - 1 }), refused)).toMatchObject({ memory: { state: 'EngineDown' }, action: { kind: 'none' } });
      expect(decide(input({ now: 100_000 + T.startRetryMs }), refused).action.kind).toBe('start');
    });

    it('a started VM is EngineStarting until healthy, then EngineUp', () => {
      const started = decide(input(), mem('EngineDown')).memory;
      const starting = decide(input({ now: 101_000, engine: 'running', health: 'bad' }), started);
      expect(starting).toMatchObject({ memory: { state: 'EngineStarting' }, action: { kind: 'none' } });
      const up = decide(input({ now: 110_000, engine: 'running', health: 'good' }), starting.memory);
      expect(up.memory.state).toBe('EngineUp');
      expect(up.memory.startedAt).toBeUndefined();
    });

    it('stops a VM that is not healthy within the start timeout', () => {
      const m = mem('EngineStarting', { startedAt: 0 });
      expect(decide(input({ now: T.startTimeoutMs - 1, engine: 'running', health: 'bad' }), m).action.kind).toBe('none');
      const d = decide(input({ now: T.startTimeoutMs, engine: 'running', health: 'bad' }), m);
      expect(d.memory.state).toBe('EngineStop');
      expect(d.action).toMatchObject({ kind: 'stop' });
    });

    it('leaves a domain that is busy (incoming migration, paused start) alone', () => {
      const m = mem('EngineDown');
      expect(decide(input({ engine: 'busy' }), m)).toEqual({ memory: m, action: { kind: 'none' }, score: 3400 });
    });
  });

  describe('bad health', () => {
    it('counts bad health and stops the VM once it lasted the bad-health timeout', () => {
      let m = mem('EngineUp');
      let d = decide(input({ now: 0, engine: 'running', health: 'bad' }), m);
      expect(d.memory).toMatchObject({ state: 'EngineUpBadHealth', badHealthSince: 0 });
      m = d.memory;
      d = decide(input({ now: T.badHealthTimeoutMs - 1, engine: 'running', health: 'bad' }), m);
      expect(d.action.kind).toBe('none');
      d = decide(input({ now: T.badHealthTimeoutMs, engine: 'running', health: 'bad' }), d.memory);
      expect(d.memory.state).toBe('EngineStop');
      expect(d.action).toMatchObject({ kind: 'stop' });
    });

    it('a good check in between starts the count again', () => {
      const bad = decide(input({ now: 0, engine: 'running', health: 'bad' }), mem('EngineUp')).memory;
      const good = decide(input({ now: 1000, engine: 'running', health: 'good' }), bad).memory;
      expect(good.badHealthSince).toBeUndefined();
      const badAgain = decide(input({ now: T.badHealthTimeoutMs + 500, engine: 'running', health: 'bad' }), good);
      expect(badAgain.action.kind).toBe('none');
      expect(badAgain.memory.badHealthSince).toBe(T.badHealthTimeoutMs + 500);
    });

    it('an unknown health (not checked yet) neither stops nor clears the count', () => {
      const bad = decide(input({ now: 0, engine: 'running', health: 'bad' }), mem('EngineUp')).memory;
      const unknown = decide(input({ now: 1000, engine: 'running', health: 'unknown' }), bad);
      expect(unknown.memory.badHealthSince).toBe(0);
      expect(unknown.action.kind).toBe('none');
    });

    it('after stopping it, the best node (possibly the same one) starts it again without a hold', () => {
      const stopped = mem('EngineStop');
      const d = decide(input({ now: 5000, engine: 'down' }), stopped);
      expect(d.action.kind).toBe('start');
    });
  });

  describe('the VM dying under its node', () => {
    it('its node scores 0 for the hold time so another node restarts it', () => {
      const d = decide(input({ now: 0, engine: 'down' }), mem('EngineUp'));
      expect(d).toMatchObject({ memory: { state: 'EngineUnexpectedlyDown', unexpectedDownAt: 0 }, action: { kind: 'none' }, score: 0 });
      // The other node, reading the 0, is now the best and starts it.
      const other = decide(input({ name: 'node-2', peers: [peer({ name: 'node-1', score: 0, state: 'EngineUnexpectedlyDown' })] }), mem('EngineDown'));
      expect(other.action.kind).toBe('start');
    });

    it('after the hold it may start it itself (no other node did)', () => {
      const held = decide(input({ now: 0 }), mem('EngineUp')).memory;
      expect(decide(input({ now: T.hostAliveTimeoutMs - 1 }), held).action.kind).toBe('none');
      expect(decide(input({ now: T.hostAliveTimeoutMs }), held)).toMatchObject({ action: { kind: 'start' }, score: 3400 });
    });

    it('a VM stopped during global maintenance is not an unexpected stop once maintenance ends', () => {
      const d = decide(input({ now: 0, engine: 'down', peers: [] }), mem('GlobalMaintenance'));
      expect(d.action.kind).toBe('start');
    });
  });

  describe('global maintenance', () => {
    it('nobody acts: no start though the VM runs nowhere', () => {
      const d = decide(input({ globalMaintenance: true, peers: [] }), mem('EngineDown'));
      expect(d).toMatchObject({ memory: { state: 'GlobalMaintenance' }, action: { kind: 'none' } });
    });

    it('no stop though its health fails for ever', () => {
      const d = decide(input({ now: 10 * T.badHealthTimeoutMs, globalMaintenance: true, engine: 'running', health: 'bad' }), mem('GlobalMaintenance', { badHealthSince: 0 }));
      expect(d.action.kind).toBe('none');
    });

    it('no migration though the score is far below another node', () => {
      const d = decide(input({ globalMaintenance: true, engine: 'running', health: 'good', rawScore: 800, peers: [peer({ score: 3400 })] }), mem('EngineUp'));
      expect(d.action.kind).toBe('none');
    });

    it('acts even during Initializing (it must not start anything)', () => {
      expect(decide(input({ now: 1, globalMaintenance: true }), initialMemory(0)).memory.state).toBe('GlobalMaintenance');
    });
  });

  describe('local maintenance', () => {
    it('a node running the VM migrates it to the best other live node', () => {
      const d = decide(
        input({ localMaintenance: true, engine: 'running', health: 'good', peers: [peer({ name: 'node-2', score: 2000 }), peer({ name: 'node-3', score: 3000 }), peer({ name: 'node-4', score: 3400, live: false })] }),
        mem('EngineUp'),
      );
      expect(d.memory.state).toBe('LocalMaintenanceMigrate');
      expect(d.action).toMatchObject({ kind: 'migrate', to: 'node-3' });
      expect(d.score).toBe(0);
    });

    it('with no other live node it keeps the VM running (chosen: the Manager stays up) and tries later', () => {
      const d = decide(input({ localMaintenance: true, engine: 'running', health: 'good', peers: [peer({ live: false })] }), mem('EngineUp'));
      expect(d).toMatchObject({ memory: { state: 'LocalMaintenanceMigrate' }, action: { kind: 'none' } });
    });

    it('waits while its migration runs, and after a failed one', () => {
      expect(decide(input({ localMaintenance: true, engine: 'migrating' }), mem('LocalMaintenanceMigrate')).action.kind).toBe('none');
      const failed = noteMigrationFailed(mem('LocalMaintenanceMigrate'), 100_000);
      expect(decide(input({ now: 100_000 + T.startRetryMs - 1, localMaintenance: true, engine: 'running', health: 'good' }), failed).action.kind).toBe('none');
      expect(decide(input({ now: 100_000 + T.startRetryMs, localMaintenance: true, engine: 'running', health: 'good' }), failed).action.kind).toBe('migrate');
    });

    it('a node not running it takes no part: never starts, score 0', () => {
      const d = decide(input({ localMaintenance: true, peers: [] }), mem('EngineDown'));
      expect(d).toMatchObject({ memory: { state: 'LocalMaintenance' }, action: { kind: 'none' }, score: 0 });
    });

    it('after its VM migrated away it is LocalMaintenance', () => {
      const d = decide(input({ localMaintenance: true, engine: 'down', peers: [peer({ engineRunning: true })] }), mem('LocalMaintenanceMigrate'));
      expect(d.memory.state).toBe('LocalMaintenance');
    });
  });

  describe('migrating away on score', () => {
    it('a healthy node 800 or more below the best other live node migrates the VM there', () => {
      const d = decide(input({ engine: 'running', health: 'good', rawScore: 2600, peers: [peer({ score: 3400 })] }), mem('EngineUp'));
      expect(d.memory.state).toBe('EngineMigratingAway');
      expect(d.action).toMatchObject({ kind: 'migrate', to: 'node-2' });
    });

    it('less than the gap: it stays', () => {
      const d = decide(input({ engine: 'running', health: 'good', rawScore: 2601, peers: [peer({ score: 3400 })] }), mem('EngineUp'));
      expect(d).toMatchObject({ memory: { state: 'EngineUp' }, action: { kind: 'none' } });
    });

    it('a dead or maintained node does not attract it', () => {
      expect(decide(input({ engine: 'running', health: 'good', rawScore: 1000, peers: [peer({ live: false })] }), mem('EngineUp')).action.kind).toBe('none');
      expect(decide(input({ engine: 'running', health: 'good', rawScore: 1000, peers: [peer({ localMaintenance: true })] }), mem('EngineUp')).action.kind).toBe('none');
    });

    it('shows EngineMigratingAway while the migration runs, and EngineUp when it failed and the VM still runs here', () => {
      expect(decide(input({ engine: 'migrating' }), mem('EngineMigratingAway')).memory.state).toBe('EngineMigratingAway');
      const failed = noteMigrationFailed(mem('EngineMigratingAway'), 100_000);
      const d = decide(input({ engine: 'running', health: 'good', rawScore: 2000, peers: [peer({ score: 3400 })] }), failed);
      expect(d).toMatchObject({ memory: { state: 'EngineUp' }, action: { kind: 'none' } });
    });

    it('once migrated, the old node sees it running elsewhere', () => {
      const d = decide(input({ engine: 'down', peers: [peer({ engineRunning: true })] }), mem('EngineMigratingAway'));
      expect(d.memory.state).toBe('EngineDownElsewhere');
      expect(d.memory.unexpectedDownAt).toBeUndefined();
    });

    it('an incoming migration landing here is taken over as EngineUp', () => {
      expect(decide(input({ engine: 'running', health: 'good' }), mem('EngineDownElsewhere')).memory.state).toBe('EngineUp');
    });
  });

  describe('bestCandidate', () => {
    it('picks the highest score, then the lower name, and never a score of 0', () => {
      expect(bestCandidate([{ name: 'b', score: 10 }, { name: 'a', score: 10 }, { name: 'c', score: 5 }])).toEqual({ name: 'a', score: 10 });
      expect(bestCandidate([{ name: 'a', score: 0 }])).toBeUndefined();
      expect(bestCandidate([])).toBeUndefined();
    });
  });

  it('keeps the time a state was entered across decisions in it', () => {
    const first = decide(input({ now: 1000 }), mem('EngineDown', { since: 0 }));
    expect(first.memory).toMatchObject({ state: 'EngineStart', since: 1000 });
    const m = decide(input({ now: 5000, peers: [peer({ engineRunning: true })] }), mem('EngineDownElsewhere', { since: 42 }));
    expect(m.memory.since).toBe(42);
  });
});
