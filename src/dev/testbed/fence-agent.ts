/**
 * The test bed's fence agent: the fence-agents protocol (see
 * fence-protocol.ts) over the fault primitives, so the operator fences a test
 * host exactly as it would run `fence_ipmilan` against a real BMC. `off` is a
 * power loss ({@link killHost}), `on` a boot ({@link powerOn}), `status`
 * tells whether any process of the host is left, and the extra action
 * `restart-agent` is the soft fence ({@link restartAgent}).
 */
import { killHost, powerOn, powerState, restartAgent } from './faults.js';
import { FENCE_EXIT, type FenceRequest } from './fence-protocol.js';
import { readState } from './testbed.js';

/** Name of the option carrying the test bed's state directory. */
export const STATE_DIR_OPTION = 'state_dir';

/** What a fence run printed and how it ended. */
export interface FenceResult {
  code: number;
  stdout: string;
  stderr: string;
}

const METADATA = `<?xml version="1.0" ?>
<resource-agent name="fence_drover_testbed" shortdesc="Fence agent for Drover's multi-host test bed">
<longdesc>Powers test hosts of a Drover test bed off (SIGKILL of every process in the host's namespaces) and on (libvirt daemons and agent started again); restart-agent restarts only the host agent.</longdesc>
<parameters>
  <parameter name="action" unique="0" required="1"><getopt mixed="-o, --action=[action]"/><content type="string" default="reboot"/><shortdesc lang="en">Fencing action</shortdesc></parameter>
  <parameter name="plug" unique="0" required="1"><getopt mixed="-n, --plug=[host]"/><content type="string"/><shortdesc lang="en">Test host name</shortdesc></parameter>
  <parameter name="${STATE_DIR_OPTION}" unique="0" required="1"><content type="string"/><shortdesc lang="en">Test bed state directory</shortdesc></parameter>
</parameters>
<actions>
  <action name="on"/><action name="off"/><action name="reboot"/><action name="status"/><action name="monitor"/><action name="list"/><action name="metadata"/><action name="restart-agent"/>
</actions>
</resource-agent>
`;

/** Runs one fence request against the test bed named by its `state_dir` option. Never throws. */
export async function runTestbedFence(req: FenceRequest): Promise<FenceResult> {
  if (req.action === 'metadata') return { code: FENCE_EXIT.success, stdout: METADATA, stderr: '' };
  const stateDir = req.options[STATE_DIR_OPTION];
  if (!stateDir) return { code: FENCE_EXIT.error, stdout: '', stderr: `missing ${STATE_DIR_OPTION}=<test bed state dir>\n` };
  try {
    const tb = await readState(stateDir);
    if (!tb) return { code: FENCE_EXIT.error, stdout: '', stderr: `no test bed recorded in ${stateDir}\n` };
    const plug = req.plug ?? '';
    switch (req.action) {
      case 'monitor':
        return { code: FENCE_EXIT.success, stdout: '', stderr: '' };
      case 'list':
        return { code: FENCE_EXIT.success, stdout: tb.hosts.map((h) => `${h.name},${h.ip}\n`).join(''), stderr: '' };
      case 'status': {
        const state = await powerState(tb, plug);
        return { code: state === 'on' ? FENCE_EXIT.success : FENCE_EXIT.off, stdout: `Status: ${state.toUpperCase()}\n`, stderr: '' };
      }
      case 'off':
        await killHost(tb, plug);
        return confirm(tb.stateDir, plug, 'off');
      case 'on':
        await powerOn(tb, plug);
        return confirm(tb.stateDir, plug, 'on');
      case 'reboot': {
        await killHost(tb, plug);
        const off = await confirm(tb.stateDir, plug, 'off');
        if (off.code !== FENCE_EXIT.success) return off;
        await powerOn(tb, plug);
        return confirm(tb.stateDir, plug, 'on');
      }
      case 'restart-agent':
        await restartAgent(tb, plug);
        return { code: FENCE_EXIT.success, stdout: `Agent restarted: ${plug}\n`, stderr: '' };
    }
  } catch (error) {
    return { code: FENCE_EXIT.error, stdout: '', stderr: `${error instanceof Error ? error.message : String(error)}\n` };
  }
}

/** Success only once the host really is in the wanted state (fence agents verify, they don't assume). */
async function confirm(stateDir: string, plug: string, want: 'on' | 'off'): Promise<FenceResult> {
  const state = await powerState(stateDir, plug);
  return state === want
    ? { code: FENCE_EXIT.success, stdout: `Success: Powered ${want.toUpperCase()}\n`, stderr: '' }
    : { code: FENCE_EXIT.error, stdout: '', stderr: `${plug} is ${state} after ${want}\n` };
}
