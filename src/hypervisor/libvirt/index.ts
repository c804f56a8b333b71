/** The libvirt hypervisor driver (virsh: long-lived sessions, or execFile) and its pure parsers. */
export { LibvirtDriver } from './driver.js';
export type { Acceleration, LibvirtDriverOptions } from './driver.js';
export { Virsh, checkUuid, DEFAULT_VIRSH_SESSIONS, DEFAULT_VIRSH_TIMEOUT_MS } from './virsh.js';
export type { CommandOutcome, VirshCallOptions, VirshOptions } from './virsh.js';
export { VirshSession } from './session.js';
export type { SessionTarget, VirshSessionOptions } from './session.js';
export { SessionPool } from './session-pool.js';
export type { SessionPoolOptions } from './session-pool.js';
export { canCarry, commandFailed, decodeResponse, encodeRequest, isPlainToken, StreamBuffer } from './session-protocol.js';
export type { CommandOutput, DecodedResponse, EncodedRequest } from './session-protocol.js';
export { classifyLibvirtError, cleanVirshMessage, driverErrorFromVirsh } from './errors.js';
export { parseCapabilities, parseNodeInfoMemory, parseVersion, domcapsSaysKvm } from './parse-host.js';
export type { ParsedCapabilities } from './parse-host.js';
export {
  domainXmlUuid,
  parseDomInfo,
  parseDomState,
  parseJobInfoRaw,
  parseStateWord,
  parseUuidList,
  parseUuidNameList,
  slug,
} from './parse-domain.js';
export type { DomInfo } from './parse-domain.js';
export { parseLifecycleLine } from './parse-event.js';
export type { LifecycleLine } from './parse-event.js';
export { buildMigrateArgs } from './migrate-args.js';
export { KVM_DEVICE, kvmDeviceOpenable, probeKvm } from './kvm.js';
export type { KvmProbe } from './kvm.js';
export { lifecycleEvents } from './event-stream.js';
export type { EventStreamLogger, EventStreamOptions } from './event-stream.js';
export { DomainNameCache } from './name-cache.js';
export type { NameTableLoader } from './name-cache.js';
export { AsyncQueue } from './async-queue.js';
