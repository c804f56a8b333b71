/** Polling and timing helpers shared by the test-bed integration tests. */

/**
 * Polls `check` until it yields a value (not undefined/false) or `timeoutMs`
 * passes. Unlike `eventually`, an error thrown by `check` fails at once.
 */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A `timed(label, fn)` that records each step's duration (ms) in `timings`, for the test's report line. */
export function timer(timings: Record<string, number>) {
  return async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[label] = Math.round(performance.now() - t0);
    }
  };
}
