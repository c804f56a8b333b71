/**
 * Error types the runtime recognises. Each carries a brand symbol as well as
 * a class, because `instanceof` fails when two copies of this module are
 * loaded (e.g. jest's module registry, or a bundled plugin), and a silent
 * mismatch would turn "don't retry" into a hot loop.
 */

const terminalBrand = Symbol.for('drover.runtime.TerminalError');
const conflictBrand = Symbol.for('drover.runtime.ConflictError');

/**
 * Thrown by a reconciler when retrying cannot help (e.g. an invalid spec): the
 * controller logs it, counts it, forgets the key's backoff and does not requeue.
 * The next change to the object enqueues it again.
 */
export class TerminalError extends Error {
  /** Brand checked by {@link isTerminalError}. */
  readonly [terminalBrand] = true;

  /**
   * @param message what is wrong, phrased for the user.
   * @param options standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** True when `err` is a {@link TerminalError} (from any copy of this module). */
export function isTerminalError(err: unknown): err is TerminalError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[terminalBrand] === true;
}

/**
 * Thrown by a store when a write lost an optimistic-concurrency race
 * (resourceVersion mismatch, or create of an object that already exists).
 * The leader elector treats it as "someone else wrote first", not a failure.
 */
export class ConflictError extends Error {
  /** Brand checked by {@link isConflictError}. */
  readonly [conflictBrand] = true;

  /**
   * @param message what conflicted.
   * @param options standard error options (`cause`).
   */
  constructor(message = 'conflict', options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConflictError';
  }
}

/** True when `err` is a {@link ConflictError} (from any copy of this module). */
export function isConflictError(err: unknown): err is ConflictError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[conflictBrand] === true;
}

/** The message of anything thrown (an Error's message, or the value as a string). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
