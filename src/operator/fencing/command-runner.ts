/**
 * Runs fence agents as programs: `fence_<agent>` from PATH (the fence-agents
 * packages: `fence_ipmilan` for IPMI BMCs), or Drover's test bed agent
 * (`drover dev fence-testbed`) when the operator was started with a test bed
 * state directory. argv never carries input; options go on stdin.
 *
 * Exit codes follow fence-agents: 0 success; for `status`, 0 = on, 2 = off.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fenceStdin, redact } from './stdin-options.js';
import type { FenceAction, FenceRequest, FenceResult, FenceRunner } from './types.js';

/** Fence agent names (the Host schema's pattern): safe to put in a program name. */
const AGENT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** Options of {@link CommandFenceRunner}. */
export interface CommandFenceRunnerOptions {
  /** Directories searched for `fence_<agent>` (default: PATH). */
  searchPath?: string[];
  /**
   * Enables the `testbed` agent: the test bed's state directory, and the
   * argv that runs `drover dev fence-testbed` (default: this Node.js and this CLI).
   */
  testbed?: { stateDir: string; argv?: string[] };
  /** Per-call time limit (default 60 s). */
  timeoutMs?: number;
}

/** Longest output kept for a message. */
const MAX_OUTPUT = 4096;

/** {@link FenceRunner} over fence agent programs. */
export class CommandFenceRunner implements FenceRunner {
  private readonly searchPath: string[];
  private readonly timeoutMs: number;

  constructor(private readonly options: CommandFenceRunnerOptions = {}) {
    this.searchPath = options.searchPath ?? (process.env['PATH'] ?? '').split(':').filter(Boolean);
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  supports(agent: string, action: FenceAction): boolean {
    if (action === 'restart-agent') return agent === 'testbed' && this.options.testbed !== undefined;
    return true;
  }

  /** The argv and extra stdin options for `agent`, or why it cannot run. */
  private command(agent: string): { argv: string[]; extra: Record<string, string> } | { error: string } {
    if (!AGENT_NAME.test(agent)) return { error: `invalid fence agent name ${JSON.stringify(agent)}` };
    if (agent === 'testbed') {
      const tb = this.options.testbed;
      if (!tb) return { error: 'the testbed fence agent is for development only and is not enabled on this operator (--testbed-fence-state-dir)' };
      return { argv: tb.argv ?? [process.execPath, process.argv[1] ?? 'drover', 'dev', 'fence-testbed'], extra: { state_dir: tb.stateDir } };
    }
    const program = `fence_${agent}`;
    for (const dir of this.searchPath) {
      const candidate = path.join(dir, program);
      try {
        accessSync(candidate, constants.X_OK);
        return { argv: [candidate], extra: {} };
      } catch {
        // not here
      }
    }
    return { error: `${program} is not installed on the operator's machine (Debian: apt-get install fence-agents)` };
  }

  async run(request: FenceRequest): Promise<FenceResult> {
    const cmd = this.command(request.agent);
    if ('error' in cmd) return { ok: false, message: cmd.error };
    let stdin: string;
    try {
      // The test bed's plug is the test host (spec.powerManagement.options.plug), else the Host's name.
      const extra = request.agent === 'testbed' && request.options?.['plug'] === undefined ? { ...cmd.extra, plug: request.host } : cmd.extra;
      stdin = fenceStdin(request, extra);
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
    const { code, output } = await this.exec(cmd.argv, stdin);
    const text = redact(output.trim(), [request.password]).slice(-MAX_OUTPUT);
    if (request.action === 'status') {
      if (code === 0) return { ok: true, power: 'on', message: text || 'power is on' };
      if (code === 2) return { ok: true, power: 'off', message: text || 'power is off' };
      return { ok: false, message: `fence_${request.agent} status failed (exit ${code ?? 'killed'}): ${text}` };
    }
    if (code === 0) return { ok: true, message: text || `${request.action} done` };
    return { ok: false, message: `fence_${request.agent} ${request.action} failed (exit ${code ?? 'killed'}): ${text}` };
  }

  /** Runs argv with `stdin`, collecting stdout and stderr; a timeout kills it (code null). */
  private exec(argv: string[], stdin: string): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      let output = '';
      const collect = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-2 * MAX_OUTPUT);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, output: `${output}${err.message}` });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin);
    });
  }
}
