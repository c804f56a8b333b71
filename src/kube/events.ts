/**
 * Kubernetes Events (core/v1) with client-go-style aggregation: the same
 * reason and message about the same object bumps `count` on one Event instead
 * of creating a new one each time, so a flapping object can't flood etcd.
 */
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EventRecorder, KubeObject } from './types.js';

interface Seen {
  name: string;
  namespace: string;
  count: number;
}

/** How many distinct (object, reason, message) keys are remembered for aggregation. */
const MAX_SEEN = 4096;

/** EventRecorder writing core/v1 Events as `component` from `host`. */
export class KubeEventRecorder implements EventRecorder {
  private readonly api: CoreV1Api;
  private readonly seen = new Map<string, Seen>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly component: string,
    private readonly host: string,
    private readonly log: Logger,
  ) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  event(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    void this.record(object, type, reason, message).catch((error: unknown) =>
      // Events are best effort: losing one must never fail a reconcile.
      this.log.warn({ err: error, reason }, 'could not record event'),
    );
  }

  private async record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = object.metadata.namespace ?? 'default';
    const key = `${object.metadata.uid}/${type}/${reason}/${message}`;
    const now = new Date();
    const seen = this.seen.get(key);
    if (seen) {
      seen.count += 1;
      await this.api.patchNamespacedEvent(
        { name: seen.name, namespace: seen.namespace, body: { count: seen.count, lastTimestamp: now.toISOString() } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return;
    }
    const name = `${object.metadata.name}.${now.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    await this.api.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: object.metadata.name,
          namespace,
          uid: object.metadata.uid,
          resourceVersion: object.metadata.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.component, host: this.host },
        reportingComponent: this.component,
        reportingInstance: this.host,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
    if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(key, { name, namespace, count: 1 });
  }
}
