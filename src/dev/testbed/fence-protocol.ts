/**
 * The fence-agents stdin protocol, as `fence_ipmilan` and every other agent of
 * the ClusterLabs fence-agents project speak it: one `name=value` per line on
 * stdin (`#` comments and blank lines ignored, old aliases `option` for
 * `action` and `port` for `plug`), and exit codes 0 = success, 1 = failure;
 * for `status`, 0 = on, 2 = off, 1 = could not tell. Pure parsing only.
 */

/** Actions of the standard protocol plus the test bed's soft-fencing `restart-agent`. */
export const FENCE_ACTIONS = ['on', 'off', 'reboot', 'status', 'monitor', 'list', 'metadata', 'restart-agent'] as const;

/** One fence action. */
export type FenceAction = (typeof FENCE_ACTIONS)[number];

/** Exit codes of the protocol. */
export const FENCE_EXIT = {
  /** The action succeeded (status: the plug is on). */
  success: 0,
  /** The action failed, or the status could not be told. */
  error: 1,
  /** status only: the plug is off. */
  off: 2,
} as const;

/** Options read from stdin. */
export interface FenceRequest {
  action: FenceAction;
  /** The plug (for the test bed: the test host's name); required except for monitor, list and metadata. */
  plug?: string;
  /** Every option as given (after aliasing), for agents that take more. */
  options: Record<string, string>;
  /** Lines that were ignored (no `=`), and unknown names, for the caller to log. */
  warnings: string[];
}

/** Old names the protocol still accepts, mapped to the current ones. */
const ALIASES: Record<string, string> = { option: 'action', port: 'plug' };

/** Default action when stdin names none (as in fence-agents). */
const DEFAULT_ACTION: FenceAction = 'reboot';

/**
 * Parses fence-agent stdin. `known` lists option names the agent understands
 * besides `action` and `plug`; others are kept but reported as warnings.
 * Throws with a message fit for stderr when the action is unknown or a plug
 * is missing where one is needed.
 */
export function parseFenceRequest(text: string, known: readonly string[] = []): FenceRequest {
  const options: Record<string, string> = {};
  const warnings: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      warnings.push(`ignoring line without name=value: ${line}`);
      continue;
    }
    const given = line.slice(0, eq).trim();
    const name = ALIASES[given] ?? given;
    options[name] = line.slice(eq + 1).trim();
    if (name !== 'action' && name !== 'plug' && !known.includes(name)) warnings.push(`ignoring unknown option ${given}`);
  }
  const action = (options['action'] ?? DEFAULT_ACTION).toLowerCase();
  if (!(FENCE_ACTIONS as readonly string[]).includes(action)) {
    throw new Error(`unknown action ${JSON.stringify(action)} (one of ${FENCE_ACTIONS.join(', ')})`);
  }
  const plug = options['plug'];
  const needsPlug = !['monitor', 'list', 'metadata'].includes(action);
  if (needsPlug && !plug) throw new Error(`action ${action} needs plug=<host>`);
  return { action: action as FenceAction, ...(plug ? { plug } : {}), options, warnings };
}
