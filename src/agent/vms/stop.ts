/**
 * Graceful stop: ask the guest to shut down (ACPI), wait until the domain
 * is shut off, and power it off when the grace period runs out — the same
 * contract as Kubernetes' terminationGracePeriodSeconds.
 */
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { errorKind } from '../server/errors.js';

/** How a stop ended. */
export type StopOutcome = 'already-off' | 'graceful' | 'forced';

/** Options of {@link stopGracefully}. */
export interface StopOptions {
  /** Grace period; 0 powers off at once. */
  timeoutMs: number;
  /** How often the state is polled while waiting. */
  pollMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until the domain is shut off (or gone); false when the deadline passes first. */
async function waitShutOff(driver: HypervisorDriver, uid: string, deadline: number, pollMs: number): Promise<boolean> {
  for (;;) {
    const info = await driver.get(uid);
    if (info === undefined || info.state === 'shut off') return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(pollMs, left));
  }
}

/** Powers off, tolerating the race where the guest got there first. */
async function forceOff(driver: HypervisorDriver, uid: string): Promise<StopOutcome> {
  try {
    await driver.destroy(uid);
  } catch (error) {
    const kind = errorKind(error);
    const now = await driver.get(uid);
    if ((kind === 'Conflict' || kind === 'NotFound') && (now === undefined || now.state === 'shut off')) return 'graceful';
    throw error;
  }
  return 'forced';
}

/**
 * Stops the domain `uid`. A paused, crashed or suspended guest cannot act
 * on ACPI, so it is powered off at once.
 */
export async function stopGracefully(driver: HypervisorDriver, uid: string, options: StopOptions): Promise<StopOutcome> {
  const info = await driver.get(uid);
  if (info === undefined || info.state === 'shut off') return 'already-off';
  if (options.timeoutMs <= 0 || info.state === 'paused' || info.state === 'crashed' || info.state === 'pmsuspended') {
    return forceOff(driver, uid);
  }
  const deadline = Date.now() + options.timeoutMs;
  if (info.state !== 'shutdown') {
    try {
      await driver.shutdown(uid);
    } catch (error) {
      // The guest may have stopped between the read and the request.
      const now = await driver.get(uid);
      if (now === undefined || now.state === 'shut off') return 'graceful';
      throw error;
    }
  }
  if (await waitShutOff(driver, uid, deadline, options.pollMs)) return 'graceful';
  return forceOff(driver, uid);
}
