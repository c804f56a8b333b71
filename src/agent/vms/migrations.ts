/**
 * Live migrations run in the background on the source host: the request
 * that starts one answers 202 at once, progress is read on demand from the
 * hypervisor's job info, and the last outcome per VM is kept for the
 * operator to read (the VM itself is gone from this host once it succeeded).
 */
import type { Logger } from 'pino';
import { AgentApiError, type AgentEventInput, type MigrateVmRequest, type MigrationStatus } from '../../api/agent/index.js';
import type { HypervisorDriver, JobInfo, MigrationOptions } from '../../hypervisor/driver.js';

interface Job {
  status: MigrationStatus;
  /** Canonical text of the request, to recognise a repeat. */
  requestKey: string;
  cancelRequested: boolean;
  done: Promise<void>;
}

function requestKey(req: MigrateVmRequest): string {
  return JSON.stringify(Object.entries(req).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function copyJobInfo(info: JobInfo): MigrationStatus['jobInfo'] {
  return { ...info };
}

/** Tracks at most one migration per VM. */
export class MigrationTracker {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly driver: HypervisorDriver,
    private readonly logger: Logger,
    private readonly publish: (event: AgentEventInput) => void,
    /** How long a cancel waits for the migration to wind down before answering. */
    private readonly cancelWaitMs = 5000,
  ) {}

  /** True while a migration of `uid` runs. */
  running(uid: string): boolean {
    return this.jobs.get(uid)?.status.state === 'running';
  }

  /**
   * Starts a migration (the caller checked the VM is Drover's and running).
   * The same request while it runs answers with the running job; a
   * different one is a 409.
   */
  start(uid: string, req: MigrateVmRequest, storage: { unsafe?: boolean } = {}): MigrationStatus {
    const key = requestKey(req);
    const current = this.jobs.get(uid);
    if (current?.status.state === 'running') {
      if (current.requestKey === key) return { ...current.status };
      throw new AgentApiError(409, 'MigrationInProgress', `a migration of ${uid} to ${current.status.destinationURI} is already running`);
    }
    const options: MigrationOptions = { destinationURI: req.destinationURI };
    if (req.bandwidthMiBps !== undefined) options.bandwidthMiBps = req.bandwidthMiBps;
    if (req.autoConverge !== undefined) options.autoConverge = req.autoConverge;
    if (req.compressed !== undefined) options.compressed = req.compressed;
    if (req.maxDowntimeMs !== undefined) options.maxDowntimeMs = req.maxDowntimeMs;
    if (req.timeoutSeconds !== undefined) options.timeoutSeconds = req.timeoutSeconds;
    if (storage.unsafe) options.unsafe = true;

    const status: MigrationStatus = { uid, state: 'running', destinationURI: req.destinationURI, startedAt: new Date().toISOString() };
    const job: Job = { status, requestKey: key, cancelRequested: false, done: Promise.resolve() };
    this.jobs.set(uid, job);
    this.logger.info({ uid, destination: req.destinationURI }, 'migration started');
    job.done = this.driver.migrate(uid, options).then(
      () => this.finish(job, 'succeeded'),
      (error: unknown) => this.finish(job, job.cancelRequested ? 'cancelled' : 'failed', error),
    );
    return { ...status };
  }

  private finish(job: Job, state: 'succeeded' | 'failed' | 'cancelled', error?: unknown): void {
    job.status.state = state;
    job.status.finishedAt = new Date().toISOString();
    if (error !== undefined) job.status.error = error instanceof Error ? error.message : String(error);
    const log = { uid: job.status.uid, destination: job.status.destinationURI, state, error: job.status.error };
    if (state === 'succeeded') this.logger.info(log, 'migration finished');
    else this.logger.warn(log, 'migration did not complete');
    const event: AgentEventInput = { type: 'MigrationFinished', uid: job.status.uid, state, destinationURI: job.status.destinationURI };
    if (job.status.error !== undefined) event.error = job.status.error;
    this.publish(event);
  }

  /** The migration of `uid` (live progress while it runs); 404 when there has been none. */
  async status(uid: string): Promise<MigrationStatus> {
    const job = this.jobs.get(uid);
    if (job === undefined) throw new AgentApiError(404, 'NotFound', `no migration of ${uid} on this host`);
    if (job.status.state === 'running') {
      try {
        const info = await this.driver.jobInfo(uid);
        // The job may have ended while we asked; keep the progress only for a running one.
        if (job.status.state === 'running') job.status.jobInfo = copyJobInfo(info);
      } catch (error) {
        this.logger.debug({ uid, err: error }, 'job info unavailable');
      }
    }
    return { ...job.status };
  }

  /** Cancels a running migration and waits (briefly) for it to wind down; a finished one is answered as is. */
  async cancel(uid: string): Promise<MigrationStatus> {
    const job = this.jobs.get(uid);
    if (job === undefined) throw new AgentApiError(404, 'NotFound', `no migration of ${uid} on this host`);
    if (job.status.state !== 'running') return { ...job.status };
    if (!job.cancelRequested) {
      job.cancelRequested = true;
      this.logger.info({ uid }, 'cancelling migration');
      try {
        await this.driver.abortJob(uid);
      } catch (error) {
        // The migration may have ended on its own meanwhile; then there is nothing to cancel.
        if (job.status.state !== 'running') return { ...job.status };
        job.cancelRequested = false;
        throw error;
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([job.done, new Promise<void>((r) => (timer = setTimeout(r, this.cancelWaitMs)))]);
    clearTimeout(timer);
    return { ...job.status };
  }

  /** Waits for every running migration to end (used by tests and shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }
}
