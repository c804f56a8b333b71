/**
 * A fence runner for reconciler unit tests: records every call and answers
 * from a scripted power state. (The real runner is tested against a real
 * program speaking the fence-agents protocol in test/unit/operator/fencing.)
 */
import type { FenceAction, FenceRequest, FenceResult, FenceRunner } from '../../../src/operator/fencing/types.js';

export class FakeFenceRunner implements FenceRunner {
  readonly calls: FenceRequest[] = [];
  /** Power state per host name. */
  readonly power = new Map<string, 'on' | 'off'>();
  /** Actions that fail (by action name). */
  readonly failing = new Set<FenceAction>();
  /** Whether restart-agent is offered. */
  soft = false;
  /** Called with every request before it is answered (to change the world in the middle of a fence). */
  onRun: ((request: FenceRequest) => void | Promise<void>) | undefined;

  supports(_agent: string, action: FenceAction): boolean {
    return action !== 'restart-agent' || this.soft;
  }

  async run(request: FenceRequest): Promise<FenceResult> {
    this.calls.push({ ...request });
    await this.onRun?.(request);
    if (this.failing.has(request.action)) return { ok: false, message: `${request.action} failed (scripted)` };
    switch (request.action) {
      case 'status':
        return { ok: true, power: this.power.get(request.host) ?? 'on', message: 'status' };
      case 'off':
        this.power.set(request.host, 'off');
        return { ok: true, message: 'off' };
      case 'on':
      case 'reboot':
        this.power.set(request.host, 'on');
        return { ok: true, message: request.action };
      case 'restart-agent':
        return { ok: true, message: 'agent restarted' };
    }
  }
}
