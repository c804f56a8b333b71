/**
 * One simulated live migration: a fixed setup time, then the guest's memory
 * copied at a rate, with job info read from the clock the way `virsh
 * domjobinfo` reports a running migration, and abortable until it ends.
 *
 * @packageDocumentation
 */
import type { DriverError, JobInfo } from '../driver.js';

/** Device state QEMU sends besides RAM; the real job's total is always a little above the guest's memory. */
export const DEVICE_STATE_BYTES = 2 * 1024 * 1024;

/** Options of a {@link MigrationJob}. */
export interface MigrationJobOptions {
  /** Guest memory in bytes. */
  memoryBytes: number;
  /** Copy rate in bytes per millisecond; Infinity copies at once. */
  bytesPerMs: number;
  /** Fixed cost before and around the copy, in ms. */
  setupMs: number;
}

/** A running migration; {@link done} settles once, when it completes or is aborted. */
export class MigrationJob {
  /** Resolves when the copy finished (the caller then switches over); rejects with the abort reason. */
  readonly done: Promise<void>;
  private readonly startedAt = performance.now();
  private readonly totalBytes: number;
  private readonly timer: NodeJS.Timeout;
  private settle!: { resolve: () => void; reject: (e: DriverError) => void };
  private ended = false;

  constructor(private readonly options: MigrationJobOptions) {
    this.totalBytes = options.memoryBytes + DEVICE_STATE_BYTES;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const copyMs = options.bytesPerMs === Infinity ? 0 : this.totalBytes / options.bytesPerMs;
    this.timer = setTimeout(() => this.finish(), options.setupMs + copyMs);
  }

  /** Whether the job still runs. */
  get running(): boolean {
    return !this.ended;
  }

  /** Progress as libvirt reports an outgoing migration (type unbounded, operation migration-out). */
  info(): JobInfo {
    const elapsedMs = performance.now() - this.startedAt;
    const copying = Math.max(0, elapsedMs - this.options.setupMs);
    // Infinity × 0 would be NaN: an unlimited copy has sent everything once it may send at all.
    const sent = this.options.bytesPerMs === Infinity ? (copying > 0 ? Infinity : 0) : copying * this.options.bytesPerMs;
    const processed = Math.min(this.totalBytes, Math.floor(sent));
    return {
      type: 'unbounded',
      operation: 'migration-out',
      elapsedMs: Math.round(elapsedMs),
      dataTotalBytes: this.totalBytes,
      dataProcessedBytes: processed,
      dataRemainingBytes: this.totalBytes - processed,
      memoryIteration: 1,
    };
  }

  /** Ends the job with `reason` (no effect once it ended). */
  abort(reason: DriverError): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.settle.reject(reason);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.settle.resolve();
  }
}
