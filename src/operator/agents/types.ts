/**
 * The operator's view of its host agents: one link per Host, kept by the
 * agent connection manager and read by the reconcilers. Reconcilers never open
 * connections themselves; they read the latest link state (fed by heartbeats
 * and the agent's event stream) and call verbs through `client()`.
 */
import type { AgentClient } from '../../agent/client/index.js';
import type {
  HostCapabilitiesResponse,
  HostStatsResponse,
  StorageDomainStatusResponse,
  VmInfo,
} from '../../api/agent/index.js';

/**
 * Where a link stands:
 * - `Connecting`: no answer yet since the link was (re)created;
 * - `Connected`: the last heartbeat was answered;
 * - `Unreachable`: the address answers nothing (refused, timeout, no route);
 * - `CertificateRejected`: TLS failed (the agent's certificate is not from the
 *   Manager's CA or does not name the host, or the agent refused ours);
 * - `NoCredentials`: the namespace has no Manager CA yet, so no client certificate.
 */
export type AgentLinkState = 'Connecting' | 'Connected' | 'Unreachable' | 'CertificateRejected' | 'NoCredentials';

/** The latest known state of one host's agent. */
export interface HostLink {
  /** `namespace/name` of the Host. */
  key: string;
  state: AgentLinkState;
  /** When the agent last answered (heartbeat or any call). */
  lastHeartbeat?: Date;
  /** When the link first failed after being Connected (undefined while Connected). */
  failingSince?: Date;
  /** The last failure, for people. */
  lastError?: string;
  capabilities?: HostCapabilitiesResponse;
  stats?: HostStatsResponse;
  /** Storage domains as the agent reported them on the last refresh. */
  storage?: StorageDomainStatusResponse[];
  /** Domains on the host, kept current by lifecycle events and relists. */
  vms?: VmInfo[];
  /** The agent process's boot id (changes when the agent restarts). */
  bootId?: string;
}

/** What the connection manager needs to reach one host. */
export interface HostTarget {
  namespace: string;
  name: string;
  address: string;
  port: number;
  /** How often to heartbeat (Manager spec.availability.heartbeatIntervalSeconds). */
  heartbeatIntervalMs: number;
  /** Issue time (RFC 3339) of the newest agent certificate recorded (Host status.certificate.notBefore): older ones are refused. */
  certificateIssuedNotBefore?: string;
}

/** The typed agent API, as reconcilers use it (AgentClient's verbs). */
export type AgentApi = Pick<
  AgentClient,
  | 'capabilities'
  | 'stats'
  | 'listStorageDomains'
  | 'getStorageDomain'
  | 'connectStorageDomain'
  | 'disconnectStorageDomain'
  | 'formatStorageDomain'
  | 'storageHeartbeats'
  | 'listVolumes'
  | 'getVolume'
  | 'createVolume'
  | 'deleteVolume'
  | 'listVms'
  | 'getVm'
  | 'defineVm'
  | 'undefineVm'
  | 'startVm'
  | 'stopVm'
  | 'destroyVm'
  | 'pauseVm'
  | 'resumeVm'
  | 'migrateVm'
  | 'getMigration'
  | 'cancelMigration'
  | 'hostedEngineStatus'
  | 'setHostedEngineMaintenance'
  | 'certificateRequest'
  | 'installCertificate'
>;

/** What a change notification is about. */
export type LinkChange =
  /** state, heartbeat, capabilities or stats changed */
  | { kind: 'host'; key: string }
  /** a domain's lifecycle changed (event or relist); uid is the VM's UID */
  | { kind: 'vm'; key: string; uid: string }
  /** a storage domain's connection or health changed */
  | { kind: 'storage'; key: string; domain: string }
  /** a migration the agent ran finished */
  | { kind: 'migration'; key: string; uid: string };

/** The agent connection manager, as reconcilers see it. */
export interface AgentConnections {
  /**
   * Creates the link for `target` or updates it (a changed address or port
   * reconnects). Idempotent and cheap: the Host reconciler calls it every time.
   */
  ensure(target: HostTarget): void;
  /** Closes and forgets the link of a deleted Host. */
  forget(key: string): void;
  /** The latest state, or undefined when no link exists. */
  link(key: string): HostLink | undefined;
  /** The agent API of a host; undefined when no link exists or it has no credentials. */
  client(key: string): AgentApi | undefined;
  /** Relists storage and VMs now (after a verb changed them) and notifies; with `capabilities`, reads those again too. */
  refresh(key: string, options?: { capabilities?: boolean }): Promise<void>;
  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (change: LinkChange) => void): () => void;
  /** Closes every link. */
  close(): Promise<void>;
}
