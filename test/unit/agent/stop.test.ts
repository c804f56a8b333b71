import { describe, expect, it } from '@jest/globals';
import { stopGracefully } from '../../../src/agent/vms/stop.js';
import { DriverError, type DomainInfo, type DomainState, type HypervisorDriver } from '../../../src/hypervisor/driver.js';

const UID = '6f1e1a4c-3f0b-4c1e-9b1a-2b2d3c4d5e6f';

/**
 * A guest that loses the first `lost` power-button presses (it is still
 * booting: no ACPI handler yet) and powers off 10 ms after a press it hears.
 */
function guest(lost: number, state: DomainState = 'running') {
  const g = {
    state,
    presses: 0,
    destroys: 0,
    /** The press (1-based) that fails, as libvirt can (a busy monitor). */
    failPress: 0,
    driver: {
      get: async (): Promise<DomainInfo | undefined> => ({ uuid: UID, name: 'g', state: g.state } as DomainInfo),
      shutdown: async (): Promise<void> => {
        g.presses += 1;
        if (g.presses === g.failPress) throw new DriverError('Failed', 'monitor busy');
        if (g.presses > lost) setTimeout(() => (g.state = 'shut off'), 10);
      },
      destroy: async (): Promise<void> => {
        g.destroys += 1;
        g.state = 'shut off';
      },
    } as unknown as HypervisorDriver,
  };
  return g;
}

describe('stopGracefully', () => {
  it('presses the button again while the guest runs on, so a press lost to the boot costs one interval, not the grace period', async () => {
    const g = guest(2);
    // 'graceful' is itself the proof it did not wait out the 5 s grace period (that ends 'forced').
    await expect(stopGracefully(g.driver, UID, { timeoutMs: 5_000, pollMs: 10, repeatMs: 100 })).resolves.toBe('graceful');
    expect(g.presses).toBe(3);
    expect(g.destroys).toBe(0);
  });

  it('presses once when the guest hears it', async () => {
    const g = guest(0);
    await expect(stopGracefully(g.driver, UID, { timeoutMs: 5_000, pollMs: 10, repeatMs: 100 })).resolves.toBe('graceful');
    expect(g.presses).toBe(1);
  });

  it('still powers off at the deadline a guest that never listens, pressing at each interval until then', async () => {
    const g = guest(Infinity);
    const started = performance.now();
    await expect(stopGracefully(g.driver, UID, { timeoutMs: 350, pollMs: 10, repeatMs: 100 })).resolves.toBe('forced');
    // At least one repeat, and never more than one press per interval (a loaded machine makes fewer, not more).
    expect(g.presses).toBeGreaterThanOrEqual(2);
    expect(g.presses).toBeLessThanOrEqual(Math.floor((performance.now() - started) / 100) + 1);
    expect(g.destroys).toBe(1);
  });

  it('a repeated press that fails changes nothing: the next one is made, and the deadline still holds', async () => {
    const g = guest(2);
    g.failPress = 2;
    await expect(stopGracefully(g.driver, UID, { timeoutMs: 5_000, pollMs: 10, repeatMs: 100 })).resolves.toBe('graceful');
    expect(g.presses).toBe(3);
    expect(g.destroys).toBe(0);
  });

  it('does not press a guest already shutting down (libvirt state shutdown)', async () => {
    const g = guest(Infinity, 'shutdown');
    await expect(stopGracefully(g.driver, UID, { timeoutMs: 250, pollMs: 10, repeatMs: 50 })).resolves.toBe('forced');
    expect(g.presses).toBe(0);
  });
});
