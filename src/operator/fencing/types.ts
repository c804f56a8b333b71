/**
 * Power fencing as the operator sees it: a fence agent program per Host
 * (`spec.powerManagement.agent`), run with the fence-agents conventions.
 */

/** Fence actions: the standard ones, plus `restart-agent` (soft fencing, test bed only). */
export type FenceAction = 'on' | 'off' | 'reboot' | 'status' | 'restart-agent';

/** One fence call. */
export interface FenceRequest {
  /** The Host's name (the test bed's `plug`). */
  host: string;
  /** Fence agent name: `ipmilan` runs `fence_ipmilan`; `testbed` the test bed's agent. */
  agent: string;
  action: FenceAction;
  /** BMC address and port. */
  address?: string;
  port?: number;
  /** From the credentials Secret; never logged. */
  username?: string;
  password?: string;
  /** Extra agent options (name → value). */
  options?: Record<string, string>;
}

/** What a fence call achieved. */
export interface FenceResult {
  ok: boolean;
  /** For `status`: the power state the agent reported. */
  power?: 'on' | 'off';
  /** For people (the agent's output, secrets removed). */
  message: string;
}

/** Runs fence agents. */
export interface FenceRunner {
  /** Whether `agent` can do `action` here (soft fencing exists for some agents only). */
  supports(agent: string, action: FenceAction): boolean;
  run(request: FenceRequest): Promise<FenceResult>;
}
