/**
 * The VM verbs of the host agent. Every verb is idempotent: it reads the
 * domain first and calls the hypervisor only when something has to change,
 * so a repeated request gets the same answer and causes no second call.
 * Domains that are not Drover's are never touched (403 NotOwned).
 */
import type { Logger } from 'pino';
import {
  AgentApiError,
  type AgentEventInput,
  type MigrateVmRequest,
  type MigrationStatus,
  type UndefineVmResponse,
  type VmInfo,
  type VmList,
  type VmSpec,
} from '../../api/agent/index.js';
import { buildDomainXml, computeSpecHash, type HypervisorType } from '../../hypervisor/domainxml/index.js';
import type { DomainInfo, HypervisorDriver } from '../../hypervisor/driver.js';
import type { StorageManager } from '../storage/types.js';
import { describeDomain, isActive, parseOrUndefined } from './describe.js';
import { KeyedMutex } from './keyed-mutex.js';
import { MigrationTracker } from './migrations.js';
import { resolveVmSpec, type ResolveContext } from './resolve.js';
import { stopGracefully } from './stop.js';

/** Options of a {@link VmService}. */
export interface VmServiceOptions {
  driver: HypervisorDriver;
  storage: StorageManager;
  logger: Logger;
  /** Where host events go (the event stream). */
  publish: (event: AgentEventInput) => void;
  /** State poll interval while waiting for a graceful stop. */
  pollMs?: number;
  /** How long cancelling a migration waits for it to end before answering. */
  migrationCancelWaitMs?: number;
  /** The whole-VM lease each defined domain gets (HA: src/agent/leases). */
  vmLease?: ResolveContext['vmLease'];
}

/** VM verbs over a hypervisor driver and a storage manager. */
export class VmService {
  private readonly driver: HypervisorDriver;
  private readonly storage: StorageManager;
  private readonly logger: Logger;
  private readonly publish: (event: AgentEventInput) => void;
  private readonly pollMs: number;
  private readonly locks = new KeyedMutex();
  private readonly migrations: MigrationTracker;
  private hostType: HypervisorType | undefined;
  private readonly vmLease: ResolveContext['vmLease'];

  constructor(options: VmServiceOptions) {
    this.driver = options.driver;
    this.storage = options.storage;
    this.logger = options.logger;
    this.publish = options.publish;
    this.pollMs = options.pollMs ?? 500;
    this.vmLease = options.vmLease;
    this.migrations = new MigrationTracker(this.driver, this.logger, this.publish, options.migrationCancelWaitMs);
  }

  /**
   * Lists the domains on the host and reports every one that is not
   * Drover's (log line and OrphanDomain event). Nothing is changed.
   * @returns the orphans.
   */
  async rediscover(): Promise<VmInfo[]> {
    const all = (await this.driver.list()).map(describeDomain);
    const orphans = all.filter((vm) => !vm.owned);
    for (const o of orphans) {
      this.logger.warn({ uid: o.uid, name: o.name, state: o.state }, 'orphan domain found: not created by Drover, reported and left alone');
      this.publish({ type: 'OrphanDomain', uid: o.uid, name: o.name, state: o.state });
    }
    this.logger.info({ domains: all.length, owned: all.length - orphans.length, orphans: orphans.length }, 'domains rediscovered');
    return orphans;
  }

  /** Every domain, Drover's and orphans. */
  async list(): Promise<VmList> {
    const items = (await this.driver.list()).map(describeDomain).sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    return { items };
  }

  /** One domain (orphans too: reading is not touching). */
  async get(uid: string): Promise<VmInfo> {
    return describeDomain(await this.require(uid));
  }

  /**
   * Defines the domain from `spec` unless it is already defined from an
   * identical spec (same specHash): then nothing is called and the answer
   * is the same as the first time.
   */
  define(uid: string, spec: VmSpec): Promise<VmInfo> {
    return this.locks.run(uid, async () => {
      this.refuseDuringMigration(uid);
      const existing = await this.driver.get(uid);
      if (existing !== undefined) {
        const parsed = parseOrUndefined(existing.xml);
        if (parsed?.owner === undefined) throw notOwned(existing);
        if (parsed.owner.namespace !== spec.owner.namespace || parsed.owner.name !== spec.owner.name) {
          throw new AgentApiError(
            409,
            'OwnerMismatch',
            `owner: domain ${uid} belongs to ${parsed.owner.namespace}/${parsed.owner.name}, not ${spec.owner.namespace}/${spec.owner.name}`,
            'owner',
          );
        }
        if (existing.name !== spec.name) {
          throw new AgentApiError(409, 'Conflict', `name: domain ${uid} is defined as "${existing.name}"; renaming is not supported`, 'name');
        }
      } else {
        // Names only: a full list() costs three libvirt calls per domain on the host.
        const clash = (await this.driver.names()).find((d) => d.name === spec.name);
        if (clash !== undefined) {
          throw new AgentApiError(409, 'NameInUse', `name: "${spec.name}" is already used by domain ${clash.uuid}`, 'name');
        }
      }

      const domainSpec = await resolveVmSpec(uid, spec, { storage: this.storage, hostHypervisorType: () => this.hostHypervisorType(), vmLease: this.vmLease });
      const specHash = computeSpecHash(domainSpec);
      if (existing !== undefined && parseOrUndefined(existing.xml)?.specHash === specHash) return describeDomain(existing);

      const xml = buildDomainXml({ ...domainSpec, specHash });
      await this.driver.define(xml);
      this.logger.info({ uid, name: spec.name, specHash, generation: spec.generation, redefined: existing !== undefined }, 'domain defined');
      return describeDomain(await this.require(uid));
    });
  }

  /** Starts the domain; running already is success. */
  start(uid: string): Promise<VmInfo> {
    return this.mutate(uid, async (info) => {
      if (info.state === 'running' || info.state === 'blocked') return false;
      if (info.state === 'paused') throw new AgentApiError(409, 'VmPaused', `domain ${uid} is paused: resume it instead`);
      if (info.state === 'shutdown') throw new AgentApiError(409, 'VmRunning', `domain ${uid} is shutting down`);
      await this.driver.start(uid);
      return true;
    });
  }

  /** Graceful stop: ACPI shutdown, wait up to `timeoutSeconds`, then power off. Off already is success. */
  stop(uid: string, timeoutSeconds: number): Promise<VmInfo> {
    return this.mutate(uid, async () => {
      const outcome = await stopGracefully(this.driver, uid, { timeoutMs: timeoutSeconds * 1000, pollMs: this.pollMs });
      if (outcome === 'forced') this.logger.warn({ uid, timeoutSeconds }, 'guest did not shut down in time: powered off');
      return outcome !== 'already-off';
    });
  }

  /** Powers off at once (allowed during a migration: it is the emergency brake). Off already is success. */
  destroy(uid: string): Promise<VmInfo> {
    return this.mutate(
      uid,
      async (info) => {
        if (!isActive(info)) return false;
        await this.driver.destroy(uid);
        return true;
      },
      { allowDuringMigration: true },
    );
  }

  /** Pauses a running domain; paused already is success. */
  pause(uid: string): Promise<VmInfo> {
    return this.mutate(uid, async (info) => {
      if (info.state === 'paused') return false;
      if (info.state !== 'running' && info.state !== 'blocked') throw notRunning(uid, info);
      await this.driver.suspend(uid);
      return true;
    });
  }

  /** Resumes a paused domain; running already is success. */
  resume(uid: string): Promise<VmInfo> {
    return this.mutate(uid, async (info) => {
      if (info.state === 'running' || info.state === 'blocked') return false;
      if (info.state !== 'paused') throw notRunning(uid, info);
      await this.driver.resume(uid);
      return true;
    });
  }

  /** Removes the definition of a shut-off domain; absent already is success. */
  undefine(uid: string): Promise<UndefineVmResponse> {
    return this.locks.run(uid, async () => {
      this.refuseDuringMigration(uid);
      const info = await this.driver.get(uid);
      if (info === undefined) return { uid, deleted: true };
      if (parseOrUndefined(info.xml)?.owner === undefined) throw notOwned(info);
      if (isActive(info)) throw new AgentApiError(409, 'VmRunning', `domain ${uid} is ${info.state}: stop it before deleting it`);
      await this.driver.undefine(uid);
      this.logger.info({ uid, name: info.name }, 'domain undefined');
      return { uid, deleted: true };
    });
  }

  /** Starts a live migration in the background. */
  migrate(uid: string, req: MigrateVmRequest): Promise<MigrationStatus> {
    return this.locks.run(uid, async () => {
      const info = await this.requireOwned(uid);
      if (this.migrations.running(uid)) return this.migrations.start(uid, req);
      if (info.state !== 'running' && info.state !== 'blocked' && info.state !== 'paused') throw notRunning(uid, info);
      return this.migrations.start(uid, req, { unsafe: await this.disksOnSharedStorage(info) });
    });
  }

  /** Progress of the current or last migration of `uid`. */
  migration(uid: string): Promise<MigrationStatus> {
    return this.migrations.status(uid);
  }

  /** Cancels the running migration of `uid`. */
  cancelMigration(uid: string): Promise<MigrationStatus> {
    return this.migrations.cancel(uid);
  }

  /** Waits for background migrations (tests, shutdown). */
  settled(): Promise<void> {
    return this.migrations.settled();
  }

  /**
   * Every disk must be on a PosixFS or NFS domain, which the admin declared
   * reachable by every host. libvirt itself only trusts file systems it
   * recognises as shared (NFS, GFS2, ...), so for a PosixFS directory the
   * migration needs libvirt's "unsafe" override; a disk on LocalFS or outside
   * any domain cannot move at all.
   * @returns true when the override is needed.
   */
  private async disksOnSharedStorage(info: DomainInfo): Promise<boolean> {
    let needsOverride = false;
    for (const disk of parseOrUndefined(info.xml)?.disks ?? []) {
      if (!disk.path) continue;
      const where = await this.storage.locate(disk.path);
      if (where === undefined || where.type === 'LocalFS') {
        throw new AgentApiError(
          409,
          'NotMigratable',
          `disk ${disk.target} (${disk.path}) is ${where ? `on LocalFS domain ${where.domain}` : 'outside every connected storage domain'}: only shared storage can be migrated`,
        );
      }
      if (where.type === 'PosixFS') needsOverride = true;
    }
    return needsOverride;
  }

  private async hostHypervisorType(): Promise<HypervisorType> {
    if (this.hostType === undefined) this.hostType = (await this.driver.capabilities()).hypervisorType;
    return this.hostType;
  }

  private refuseDuringMigration(uid: string): void {
    if (this.migrations.running(uid)) {
      throw new AgentApiError(409, 'MigrationInProgress', `domain ${uid} is being migrated: wait for it or cancel it`);
    }
  }

  private async require(uid: string): Promise<DomainInfo> {
    const info = await this.driver.get(uid);
    if (info === undefined) throw new AgentApiError(404, 'NotFound', `no domain ${uid} on this host`);
    return info;
  }

  private async requireOwned(uid: string): Promise<DomainInfo> {
    const info = await this.require(uid);
    if (parseOrUndefined(info.xml)?.owner === undefined) throw notOwned(info);
    return info;
  }

  /**
   * Runs a state-changing verb under the VM's lock on a Drover domain.
   * `change` returns whether it called the hypervisor; the answer is the
   * domain as it is afterwards.
   */
  private mutate(uid: string, change: (info: DomainInfo) => Promise<boolean>, opts: { allowDuringMigration?: boolean } = {}): Promise<VmInfo> {
    return this.locks.run(uid, async () => {
      if (!opts.allowDuringMigration) this.refuseDuringMigration(uid);
      const info = await this.requireOwned(uid);
      const changed = await change(info);
      return changed ? describeDomain(await this.require(uid)) : describeDomain(info);
    });
  }
}

function notOwned(info: DomainInfo): AgentApiError {
  return new AgentApiError(
    403,
    'NotOwned',
    `domain ${info.uuid} ("${info.name}") has no Drover metadata: it was not created by Drover and is never touched`,
  );
}

function notRunning(uid: string, info: DomainInfo): AgentApiError {
  return new AgentApiError(409, 'VmNotRunning', `domain ${uid} is ${info.state}`);
}
