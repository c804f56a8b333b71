/**
 * Graceful stop: ask the guest to shut down (ACPI), wait until the domain
 * is shut off, and power it off when the grace period runs out — the same
 * contract as Kubernetes' terminationGracePeriodSeconds.
 *
 * While waiting, the power button is pressed again every few seconds: a
 * guest still booting has no ACPI handler yet and loses a press (the e2e
 * deletion tests stopped a VM a second after its start, and every one
 * waited out its whole 60 s grace period to be powered off, when the guest
 * was up 6 s in and shuts down in half a second once asked).
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
  /** How often the button is pressed again while the guest has not begun to shut down (default {@link ACPI_REPEAT_MS}). */
  repeatMs?: number;
}

/**
 * Interval of the repeated power-button presses: the tiny test guest boots
 * in ~6.4 s under TCG (src/hypervisor/simulated/latencies.ts), so a press
 * lost to the boot is made again soon after it listens. A guest already
 * shutting down takes another press as the same request (acpid, logind and
 * Windows ignore the button once shutdown is under way).
 */
export const ACPI_REPEAT_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until the domain is shut off (or gone), pressing the button again
 * every `repeatMs` while it still runs; false when the deadline passes first.
 */
async function waitShutOff(driver: HypervisorDriver, uid: string, deadline: number, pollMs: number, repeatMs: number): Promise<boolean> {
  let nextPress = Date.now() + repeatMs;
  for (;;) {
    const info = await driver.get(uid);
    if (info === undefined || info.state === 'shut off') return true;
    const now = Date.now();
    const left = deadline - now;
    if (left <= 0) return false;
    if (now >= nextPress) {
      nextPress = now + repeatMs;
      // 'running' only: a guest in shutdown heard the press, a paused one cannot.
      if (info.state === 'running') {
        // A failed repeat changes nothing: the power-off at the deadline still comes.
        await driver.shutdown(uid).catch(() => undefined);
      }
    }
    await sleep(Math.max(1, Math.min(pollMs, left, nextPress - now)));
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
  if (await waitShutOff(driver, uid, deadline, options.pollMs, options.repeatMs ?? ACPI_REPEAT_MS)) return 'graceful';
  return forceOff(driver, uid);
}
