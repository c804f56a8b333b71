/** Multi-host libvirt test bed on one machine (network + mount namespaces). */
export {
  DEFAULT_NAME_PREFIX,
  DEFAULT_QEMU_CAPS_CACHE_DIR,
  STATE_FILE,
  down,
  findBinary,
  hostExec,
  hostProcesses,
  readState,
  startHostDaemons,
  startOnHost,
  tail,
  up,
} from './testbed.js';
export type { HostExecOptions, ProcessRole, StartOptions, Testbed, TestbedHost, TestbedOptions, TestbedProcess } from './testbed.js';
export { DEFAULT_SUBNET, GUEST_OFFSET, HOST_OFFSET, addressAt, guestAddress, hostAddress, inSubnet, parseSubnet } from './subnet.js';
export type { TestbedSubnet } from './subnet.js';
export { ExecError, run, runChecked, sleep } from './exec.js';
export type { ExecOptions, ExecResult } from './exec.js';
export { isAlive, processesInNamespaces } from './processes.js';
export type { FoundProcess } from './processes.js';
export { cutLink, cutStorage, killHost, lastAgent, powerOn, powerState, restartAgent, restoreLink, restoreStorage, storageState } from './faults.js';
export type { PowerOnOptions, PowerState, TestbedRef } from './faults.js';
export { ensureFaultfs, storageControl } from './faultfs.js';
export type { StorageState } from './faultfs.js';
export { FENCE_ACTIONS, FENCE_EXIT, parseFenceRequest } from './fence-protocol.js';
export type { FenceAction, FenceRequest } from './fence-protocol.js';
export { STATE_DIR_OPTION, runTestbedFence } from './fence-agent.js';
export type { FenceResult } from './fence-agent.js';
