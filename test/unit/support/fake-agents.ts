/**
 * AgentConnections for reconciler unit tests: links whose state tests set,
 * and an in-memory agent per host that records verbs and keeps a domain
 * list and storage list the way a real agent would report them.
 */
import type { AgentCertificate, HostedEngineMaintenanceRequest, HostedEngineStatus, VmInfo, StorageDomainStatusResponse } from '../../../src/api/agent/index.js';
import { AgentApiError } from '../../../src/api/agent/index.js';
import type { AgentApi, AgentConnections, HostLink, HostTarget, LinkChange } from '../../../src/operator/agents/types.js';
import type { ManagerCa, ManagerPkiProvider } from '../../../src/pki/types.js';
import type { AgentSans, SignedAgentCert } from '../../../src/pki/manager-pki.js';

/** One recorded verb. */
export interface AgentCall {
  host: string;
  verb: string;
  args: unknown[];
}

/** A fake agent's state. */
export class FakeHostAgent {
  vms = new Map<string, VmInfo>();
  storage = new Map<string, StorageDomainStatusResponse>();
  volumes = new Set<string>();
  /** Verbs that should fail next, by verb name. */
  failures = new Map<string, AgentApiError>();
  migrations = new Map<string, { state: 'running' | 'succeeded' | 'failed' | 'cancelled'; destinationURI: string }>();
  /** Storage heartbeats this agent reads on each domain (GET /v1/storage-domains/{name}/heartbeats). */
  heartbeats = new Map<string, Array<{ host: string; ageSeconds: number; bootId?: string; seq?: number; writtenAt?: string }>>();
  /** Awaited at the start of the verb of that name (startVm), e.g. to hold calls in flight. */
  hooks = new Map<string, () => Promise<void>>();
  /**
   * The shared hosted-engine metadata this node reads (give several agents the
   * same object: it is shared storage); undefined = not a self-hosted engine node.
   */
  hostedEngine: HostedEngineStatus | undefined;
  /** The certificate this agent serves (reported in capabilities when set). */
  certificate: AgentCertificate | undefined;
  /** Certificate requests handed out. */
  private csrs = 0;

  constructor(
    readonly key: string,
    private readonly calls: AgentCall[],
  ) {}

  api(): AgentApi {
    const rec = (verb: string, ...args: unknown[]) => {
      this.calls.push({ host: this.key, verb, args });
      const f = this.failures.get(verb);
      if (f) {
        this.failures.delete(verb);
        throw f;
      }
    };
    const vm = (uid: string) => {
      const v = this.vms.get(uid);
      if (!v) throw new AgentApiError(404, 'NotFound', `no domain ${uid}`);
      return v;
    };
    const api: Partial<Record<keyof AgentApi, unknown>> = {
      capabilities: async () => { rec('capabilities'); throw new Error('unused'); },
      stats: async () => { rec('stats'); throw new Error('unused'); },
      certificateRequest: async () => {
        rec('certificateRequest');
        this.csrs += 1;
        return { csr: `CSR-${this.key}-${this.csrs}` };
      },
      installCertificate: async (cert: string) => {
        rec('installCertificate', cert);
        // FakePki's certificates read `CERT serial notBefore notAfter for <csr>`.
        const [, serial, notBefore, notAfter] = cert.split(' ');
        this.certificate = { serial: serial!, notBefore: notBefore!, notAfter: notAfter! };
        return this.certificate;
      },
      listStorageDomains: async () => ({ items: [...this.storage.values()] }),
      storageHeartbeats: async (domain: string) => {
        rec('storageHeartbeats', domain);
        return { items: this.heartbeats.get(domain) ?? [] };
      },
      getStorageDomain: async (name: string) => {
        rec('getStorageDomain', name);
        const s = this.storage.get(name);
        if (!s) throw new AgentApiError(404, 'NotFound', name);
        return s;
      },
      connectStorageDomain: async (name: string, connection: unknown) => {
        rec('connectStorageDomain', name, connection);
        const s: StorageDomainStatusResponse = { ...(this.storage.get(name) ?? { name }), name, connected: true, capacity: { totalBytes: 100 * 2 ** 30, freeBytes: 60 * 2 ** 30 } };
        this.storage.set(name, s);
        return s;
      },
      disconnectStorageDomain: async (name: string) => {
        rec('disconnectStorageDomain', name);
        this.storage.delete(name);
        return { name, connected: false as const };
      },
      formatStorageDomain: async (name: string, req: { uuid: string; role: 'Data' | 'ISO' | 'HostedEngine' }) => {
        rec('formatStorageDomain', name, req);
        const s = this.storage.get(name)!;
        if (s.metadata) throw new AgentApiError(409, 'AlreadyFormatted', 'already formatted');
        const metadata = { uuid: req.uuid, name, role: req.role, version: 1, createdAt: '2025-03-01T12:00:00Z' };
        this.storage.set(name, { ...s, metadata });
        return metadata;
      },
      createVolume: async (domain: string, volume: string, req: { sizeBytes: number }) => {
        rec('createVolume', domain, volume, req);
        this.volumes.add(`${domain}/${volume}`);
        return { name: volume, domain, format: 'qcow2' as const, virtualSizeBytes: req.sizeBytes, actualSizeBytes: 0, path: `/x/${volume}` };
      },
      deleteVolume: async (domain: string, volume: string) => {
        rec('deleteVolume', domain, volume);
        if (!this.volumes.delete(`${domain}/${volume}`)) throw new AgentApiError(404, 'VolumeNotFound', volume);
        return { domain, name: volume, deleted: true as const };
      },
      listVms: async () => ({ items: [...this.vms.values()] }),
      getVm: async (uid: string) => vm(uid),
      defineVm: async (uid: string, spec: { name: string; owner: { namespace: string; name: string } }) => {
        rec('defineVm', uid, spec);
        const prev = this.vms.get(uid);
        const info: VmInfo = { uid, name: spec.name, state: prev?.state ?? 'shut off', persistent: true, owned: true, owner: spec.owner, leaseProtected: false };
        this.vms.set(uid, info);
        return info;
      },
      undefineVm: async (uid: string) => {
        rec('undefineVm', uid);
        vm(uid);
        this.vms.delete(uid);
        return { uid, deleted: true as const };
      },
      startVm: async (uid: string) => {
        await this.hooks.get('startVm')?.();
        rec('startVm', uid);
        const v = { ...vm(uid), state: 'running' as const, reason: 'booted' };
        this.vms.set(uid, v);
        return v;
      },
      stopVm: async (uid: string, req: unknown) => {
        rec('stopVm', uid, req);
        const v = { ...vm(uid), state: 'shut off' as const, reason: 'shutdown' };
        this.vms.set(uid, v);
        return v;
      },
      destroyVm: async (uid: string) => {
        rec('destroyVm', uid);
        const v = { ...vm(uid), state: 'shut off' as const, reason: 'destroyed' };
        this.vms.set(uid, v);
        return v;
      },
      migrateVm: async (uid: string, req: { destinationURI: string }) => {
        rec('migrateVm', uid, req);
        vm(uid);
        this.migrations.set(uid, { state: 'running', destinationURI: req.destinationURI });
        return { uid, state: 'running' as const, destinationURI: req.destinationURI, startedAt: '2025-03-01T12:00:00Z' };
      },
      getMigration: async (uid: string) => {
        rec('getMigration', uid);
        const m = this.migrations.get(uid);
        if (!m) throw new AgentApiError(404, 'NotFound', 'no migration');
        return { uid, ...m, startedAt: '2025-03-01T12:00:00Z', jobInfo: { type: 'unbounded' as const, dataTotalBytes: 1000, dataRemainingBytes: 400, memoryIteration: 2 } };
      },
      cancelMigration: async (uid: string) => {
        rec('cancelMigration', uid);
        const m = this.migrations.get(uid);
        if (!m) throw new AgentApiError(404, 'NotFound', 'no migration');
        m.state = 'cancelled';
        return { uid, ...m, startedAt: '2025-03-01T12:00:00Z' };
      },
      hostedEngineStatus: async () => {
        rec('hostedEngineStatus');
        if (!this.hostedEngine) throw new AgentApiError(404, 'HostedEngineNotConfigured', 'not a self-hosted engine node');
        return structuredClone(this.hostedEngine);
      },
      setHostedEngineMaintenance: async (change: HostedEngineMaintenanceRequest) => {
        rec('setHostedEngineMaintenance', change);
        const he = this.hostedEngine;
        if (!he) throw new AgentApiError(404, 'HostedEngineNotConfigured', 'not a self-hosted engine node');
        if (change.global !== undefined) he.globalMaintenance = change.global;
        const self = he.nodes.find((n) => n.name === this.key.split('/')[1]);
        if (change.local !== undefined && self) self.localMaintenance = change.local;
        return structuredClone(he);
      },
    };
    return api as AgentApi;
  }
}

/** In-memory AgentConnections. */
export class FakeAgentConnections implements AgentConnections {
  readonly calls: AgentCall[] = [];
  readonly targets = new Map<string, HostTarget>();
  readonly agents = new Map<string, FakeHostAgent>();
  readonly links = new Map<string, HostLink>();
  readonly forgotten: string[] = [];
  /** refresh() calls, in order. */
  readonly refreshes: Array<{ key: string; capabilities: boolean }> = [];
  /** When true, refresh() does not re-read capabilities (a failed relist). */
  staleCapabilities = false;
  private listeners: ((c: LinkChange) => void)[] = [];

  /** The fake agent of `key` (created on first use). */
  agent(key: string): FakeHostAgent {
    let a = this.agents.get(key);
    if (!a) {
      a = new FakeHostAgent(key, this.calls);
      this.agents.set(key, a);
    }
    return a;
  }

  /** Makes `key` Connected with capabilities for `memoryBytes` and `threads`. */
  connect(key: string, memoryBytes = 16 * 2 ** 30, threads = 8, at = new Date('2025-03-01T12:00:00Z')): void {
    this.agent(key);
    this.links.set(key, {
      key,
      state: 'Connected',
      lastHeartbeat: at,
      capabilities: {
        hostUUID: `uuid-${key}`,
        cpu: { sockets: 1, cores: threads, threads: 1, flags: [] },
        memoryBytes,
        hypervisorType: 'qemu',
        libvirtVersion: '9.0.0',
        qemuVersion: '7.2.0',
        agentVersion: '0.1.0',
        leases: { manager: 'none' },
        ...(this.agent(key).certificate ? { certificate: { ...this.agent(key).certificate! } } : {}),
      },
      stats: { cpuUsagePercent: 3, memory: { totalBytes: memoryBytes, freeBytes: memoryBytes / 2, availableBytes: memoryBytes / 2 }, loadAverage: { one: 0.1, five: 0.1, fifteen: 0.1 }, runningVMs: 0, time: at.toISOString() },
      bootId: 'boot1',
    });
    this.sync(key);
  }

  /** Sets the lock manager a link's capabilities report. */
  setLeases(key: string, manager: 'lockd' | 'sanlock' | 'none'): void {
    const l = this.links.get(key);
    if (l?.capabilities) l.capabilities.leases = { manager };
  }

  /** Makes a link silent since `since`: Unreachable, keeping what it knew. */
  silence(key: string, since: Date): void {
    const l = this.links.get(key);
    if (l) this.links.set(key, { ...l, state: 'Unreachable', lastHeartbeat: since, failingSince: since, lastError: 'connect ECONNREFUSED' });
  }

  /** Sets a link's state (keeping what it knew). */
  setState(key: string, state: HostLink['state'], lastError?: string): void {
    const l = this.links.get(key) ?? { key, state };
    this.links.set(key, { ...l, state, ...(lastError ? { lastError } : {}) });
  }

  /** Copies the fake agent's lists into the link, as a relist would. */
  sync(key: string): void {
    const l = this.links.get(key);
    const a = this.agents.get(key);
    if (!l || !a || l.state !== 'Connected') return;
    l.vms = [...a.vms.values()];
    l.storage = [...a.storage.values()];
  }

  ensure(target: HostTarget): void {
    this.targets.set(`${target.namespace}/${target.name}`, target);
  }
  forget(key: string): void {
    this.forgotten.push(key);
    this.links.delete(key);
  }
  link(key: string): HostLink | undefined {
    const l = this.links.get(key);
    return l ? { ...l } : undefined;
  }
  client(key: string): AgentApi | undefined {
    return this.links.get(key)?.state === 'Connected' ? this.agent(key).api() : undefined;
  }
  async refresh(key: string, options: { capabilities?: boolean } = {}): Promise<void> {
    this.refreshes.push({ key, capabilities: options.capabilities === true });
    const l = this.links.get(key);
    const cert = this.agents.get(key)?.certificate;
    if (options.capabilities && !this.staleCapabilities && l?.capabilities && cert) l.capabilities = { ...l.capabilities, certificate: { ...cert } };
    this.sync(key);
  }
  onChange(listener: (change: LinkChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  emit(change: LinkChange): void {
    for (const l of this.listeners) l(change);
  }
  async close(): Promise<void> {}
  /** Verbs called, as `host verb` strings. */
  verbs(): string[] {
    return this.calls.map((c) => `${c.host} ${c.verb}`);
  }
}

/** A ManagerPkiProvider that hands out fixed values. */
export class FakePki implements ManagerPkiProvider {
  readonly ensured: string[] = [];
  async ensureCa(namespace: string, managerName: string): Promise<ManagerCa> {
    this.ensured.push(`${namespace}/${managerName}`);
    return { secretName: `${managerName}-ca`, caCertPem: 'PEM', caCertHash: 'sha256:00', notAfter: '2035-01-01T00:00:00Z' };
  }
  async clientTls() {
    return undefined;
  }
  /** CSRs signed, with the names they were signed for. */
  readonly signed: Array<{ namespace: string; hostName: string; csr: string; sans: AgentSans }> = [];
  /** The lifetime of certificates it signs, from {@link FakePki.signedAt}. */
  certDays = 365;
  signedAt = new Date('2025-03-01T12:00:00Z');
  async signAgentCsr(namespace: string, hostName: string, csr: string, sans: AgentSans): Promise<SignedAgentCert> {
    this.signed.push({ namespace, hostName, csr, sans });
    const notAfter = new Date(this.signedAt.getTime() + this.certDays * 86_400_000).toISOString();
    return { certPem: `CERT serial-${this.signed.length} ${this.signedAt.toISOString()} ${notAfter} for ${csr}`, caPem: 'CA', notAfter };
  }
}
