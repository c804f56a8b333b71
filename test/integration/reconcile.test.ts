/**
 * Reconcile behaviour against the real API server: retries with growing
 * delays (and a reset after success), status conventions (observedGeneration,
 * Ready usable by `kubectl wait`), the operator never owning spec, and invalid
 * objects reported once, not hot-looped.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, freshNamespace, getJson, kubectl, repoRoot } from '../support/env.js';
import { killOperator, leaseHolder, metricSum, operatorLog, startOperator, type OperatorProcess } from '../support/operator.js';

const BACKOFF_BASE_MS = 100;
let op: OperatorProcess;

beforeAll(async () => {
  // Wait out any holder left by an earlier test file before starting ours.
  op = await startOperator('op-reconcile', [`--backoff-base=${BACKOFF_BASE_MS}ms`, '--backoff-max=30s']);
  await eventually(async () => (await leaseHolder()) === 'op-reconcile', 60_000);
});

afterAll(async () => {
  await killOperator(op, 'SIGTERM');
  await kubectl(['delete', 'validatingadmissionpolicybinding', 'drover-test-deny-vm-status', '--ignore-not-found']);
  await kubectl(['delete', 'validatingadmissionpolicy', 'drover-test-deny-vm-status', '--ignore-not-found']);
});

function vmManifest(namespace: string, name: string, memory: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'drover.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, labels },
    spec: { cpu: { cores: 1 }, memory, disks: [{ name: 'root', storageDomain: 'data', size: '1Gi', bootOrder: 1 }] },
  });
}

/** Timestamps (ms) of the operator's "Reconciler error" lines for one object. */
async function failureTimes(namespace: string, name: string): Promise<number[]> {
  return (await operatorLog(op))
    .filter((l) => l.msg === 'Reconciler error' && l.namespace === namespace && l.name === name)
    .map((l) => Date.parse(l.time));
}

function intervals(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe('reconcile retries', () => {
  it('retries a failing reconcile with growing delays, and success resets the backoff', async () => {
    // A ValidatingAdmissionPolicy makes status writes fail for labelled VMs,
    // so the failure is real: the API server refuses the operator's write.
    const policy = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'drover-test-deny-vm-status' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: ['drover.io'], apiVersions: ['v1alpha1'], operations: ['UPDATE'], resources: ['virtualmachines/status'] }],
        },
        validations: [
          {
            expression: "!has(object.metadata.labels) || !('drover.test/fail-status' in object.metadata.labels)",
            message: 'status writes are blocked by the backoff test',
          },
        ],
      },
    };
    const binding = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'drover-test-deny-vm-status' },
      spec: { policyName: 'drover-test-deny-vm-status', validationActions: ['Deny'] },
    };
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(policy));
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(binding));
    const namespace = await freshNamespace('backoff');
    // Policies take a moment to be active: prove it with a direct status write first.
    await kubectl(['apply', '--server-side', '-f', '-'], vmManifest(namespace, 'probe', '64Mi', { 'drover.test/fail-status': 'true' }));
    await eventually(async () => {
      const r = await kubectl(['patch', 'virtualmachine', 'probe', '-n', namespace, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Pending"}}']).then(
        () => false,
        (e: Error) => e.message.includes('blocked by the backoff test'),
      );
      return r;
    }, 30_000);

    await kubectl(['apply', '--server-side', '-f', '-'], vmManifest(namespace, 'flaky', '64Mi', { 'drover.test/fail-status': 'true' }));
    const failing = await eventually(async () => {
      const t = await failureTimes(namespace, 'flaky');
      return t.length >= 7 ? t : undefined;
    }, 60_000);
    // The first two retries may come early: the watch event of the reconcile's
    // own finalizer write (it goes on to the status write in the same pass)
    // re-queues the key while it fails, so it runs again at once, and the first
    // failure's delayed retry (base) still fires. From the third failure on:
    // per-key exponential backoff, the n-th retry waiting at least base × 2^n.
    // (Only lower bounds: a busy machine can make a delay longer, never shorter.)
    const before = intervals(failing).slice(2);
    before.forEach((gap, n) => expect(gap).toBeGreaterThanOrEqual(0.9 * BACKOFF_BASE_MS * 2 ** (n + 2)));
    expect(before[before.length - 1]!).toBeGreaterThan(4 * before[0]!);

    // Remove the cause: the next attempt succeeds and the status is written.
    await kubectl(['label', 'virtualmachine', 'flaky', '-n', namespace, 'drover.test/fail-status-']);
    await eventually(async () => (await getJson('virtualmachine', 'flaky', namespace)).status?.observedGeneration === 1, 60_000);
    const failuresAtSuccess = (await failureTimes(namespace, 'flaky')).length;

    // Fail again (a spec change needs a new status): the backoff starts from the base again.
    await kubectl(['label', 'virtualmachine', 'flaky', '-n', namespace, 'drover.test/fail-status=true']);
    await kubectl(['patch', 'virtualmachine', 'flaky', '-n', namespace, '--type=merge', '-p', '{"spec":{"memory":"96Mi"}}']);
    const again = await eventually(async () => {
      const t = (await failureTimes(namespace, 'flaky')).slice(failuresAtSuccess);
      return t.length >= 3 ? t : undefined;
    }, 60_000);
    const after = intervals(again);
    expect(after[0]!).toBeLessThan(before[before.length - 1]!);
    await kubectl(['label', 'virtualmachine', 'flaky', 'probe', '-n', namespace, 'drover.test/fail-status-']);
  });
});

describe('status conventions', () => {
  it('stamps observedGeneration, supports kubectl wait on Ready, and never owns spec', async () => {
    const namespace = await freshNamespace('status');
    const manager = { apiVersion: 'drover.io/v1alpha1', kind: 'Manager', metadata: { name: 'm', namespace }, spec: { mode: 'Standalone' } };
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(manager));
    await kubectl(['wait', '--for=condition=Ready', '--timeout=60s', '-n', namespace, 'manager/m']);
    await kubectl(['apply', '--server-side', '-f', '-'], vmManifest(namespace, 'vm', '64Mi'));
    await kubectl(['patch', 'manager', 'm', '-n', namespace, '--type=merge', '-p', '{"spec":{"scheduling":{"policy":"PowerSaving"}}}']);
    const m = await eventually(async () => {
      const o = await getJson('manager', 'm', namespace);
      return o.metadata.generation === 2 && o.status?.observedGeneration === 2 ? o : undefined;
    });
    const ha = m.status.conditions.find((c: any) => c.type === 'HighlyAvailable');
    expect(ha).toMatchObject({ status: 'False', reason: 'NotEnoughHosts', observedGeneration: 2 });
    expect(m.status.virtualMachines).toEqual({ total: 1, running: 0 });

    const vm = await eventually(async () => {
      const o = await getJson('virtualmachine', 'vm', namespace);
      return o.status?.observedGeneration === 1 ? o : undefined;
    });
    expect(vm.status.conditions.find((c: any) => c.type === 'Scheduled')).toMatchObject({ status: 'False', reason: 'NoHostAvailable' });

    for (const [kind, name] of [['manager', 'm'], ['virtualmachine', 'vm']] as const) {
      const { stdout } = await kubectl(['get', kind, name, '-n', namespace, '-o', 'json', '--show-managed-fields']);
      const entries = JSON.parse(stdout).metadata.managedFields as { manager: string; fieldsV1: Record<string, unknown> }[];
      const ours = entries.filter((e) => e.manager === 'drover-operator');
      expect(ours.length).toBeGreaterThan(0);
      for (const entry of ours) expect(Object.keys(entry.fieldsV1)).not.toContain('f:spec');
    }
  });

  it('reports an object that passes the API server but fails zod as InvalidSpec, without hot-looping', async () => {
    const namespace = await freshNamespace('invalid');
    // The one way an object the API server accepted can fail zod: it was
    // stored before the CRD gained a rule (an upgrade). Reproduce that by
    // serving a Manager CRD without the healthURL scheme rule for a moment.
    const crd = JSON.parse((await kubectl(['get', 'crd', 'managers.drover.io', '-o', 'json'])).stdout);
    const selfHosted = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.selfHosted;
    selfHosted['x-kubernetes-validations'] = selfHosted['x-kubernetes-validations'].filter((r: any) => !r.rule.includes('isURL'));
    await kubectl(['replace', '-f', '-'], JSON.stringify(crd));
    const manager = {
      apiVersion: 'drover.io/v1alpha1',
      kind: 'Manager',
      metadata: { name: 'engine', namespace },
      spec: {
        mode: 'SelfHosted',
        selfHosted: {
          storageDomain: 'he',
          hostSelector: { matchLabels: { he: 'true' } },
          vm: { memory: '512Mi', kernel: 'guest/vmlinuz' },
          healthURL: 'ftp://10.0.0.1/health',
        },
      },
    };
    try {
      await eventually(() => kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(manager)).then(() => true), 30_000);
    } finally {
      await kubectl(['apply', '--server-side', '--force-conflicts', '-k', `${repoRoot()}/crds`]);
    }
    // The restored CRD rejects the same object again, so the rule is really back.
    const rejected = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], JSON.stringify({ ...manager, metadata: { name: 'engine2', namespace } })).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(rejected).toContain('healthURL');
    const ready = await eventually(async () => {
      const o = await getJson('manager', 'engine', namespace);
      return o.status?.conditions?.find((c: any) => c.type === 'Ready');
    });
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready.message).toContain('spec.selfHosted.healthURL');
    const events = JSON.parse((await kubectl(['get', 'events', '-n', namespace, '-o', 'json'])).stdout).items;
    expect(events.some((e: any) => e.reason === 'InvalidSpec' && e.involvedObject.name === 'engine')).toBe(true);

    const count = () => metricSum(op, 'controller_runtime_reconcile_total', 'controller="manager"');
    // Reconciles already on their way (watch events of related kinds reach the Manager batched,
    // up to 1 s late) land first; a hot loop never settles.
    let first = await count();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      const now = await count();
      if (now === first) break;
      first = now;
    }
    await new Promise((r) => setTimeout(r, 3000));
    // Nothing changed, so nothing was reconciled again: no hot loop.
    expect(await count()).toBe(first);
  });
});
