export { CommandFenceRunner, type CommandFenceRunnerOptions } from './command-runner.js';
export { fenceStdin, redact } from './stdin-options.js';
export type { FenceAction, FenceRequest, FenceResult, FenceRunner } from './types.js';
