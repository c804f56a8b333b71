/**
 * A benchmark's view of objects as the API server announces them: one list,
 * then a watch (re-established from the last resourceVersion whenever the
 * server ends it), every event handed over with the wall-clock time it
 * arrived. Timestamps are Date.now() so they compare with agents' log times.
 */
import type { KubeObject, ObjectClient, ResourceType, WatchEvent, WatchHandle } from '../kube/types.js';

/** Called for every event (the initial list as ADDED), with its arrival time in ms since the epoch. */
export type OnWatchEvent = (event: WatchEvent, at: number) => void;

/** A running list+watch; {@link stop} ends it. */
export class ObjectWatch {
  private handle: WatchHandle | undefined;
  private stopped = false;
  private resourceVersion = '';
  /** Errors that ended a watch (it is re-established after each). */
  readonly errors: string[] = [];

  private constructor(
    private readonly client: ObjectClient,
    private readonly type: ResourceType,
    private readonly namespace: string,
    private readonly onEvent: OnWatchEvent,
  ) {}

  /** Lists, reports the listed objects as ADDED, and watches from there. */
  static async start(client: ObjectClient, type: ResourceType, namespace: string, onEvent: OnWatchEvent): Promise<ObjectWatch> {
    const w = new ObjectWatch(client, type, namespace, onEvent);
    await w.relist();
    return w;
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.client.list(this.type, this.namespace);
    const at = Date.now();
    for (const object of items) this.onEvent({ type: 'ADDED', object }, at);
    this.resourceVersion = resourceVersion;
    await this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.handle = await this.client.watch(
      this.type,
      this.namespace,
      this.resourceVersion,
      (event) => {
        const at = Date.now();
        const rv = (event.object as KubeObject | undefined)?.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (event.type === 'BOOKMARK') return;
        if (event.type === 'ERROR') {
          this.errors.push(JSON.stringify(event.object).slice(0, 200));
          return;
        }
        this.onEvent(event, at);
      },
      (error) => {
        if (this.stopped) return;
        // client-node ends a watch after 30 s without data (TimeoutError): the normal way an idle watch ends.
        if (error && (error as Error).name !== 'TimeoutError') this.errors.push(String((error as Error).message ?? error));
        // 410 Gone: the resourceVersion is too old, start over with a list.
        const gone = (error as { code?: number } | undefined)?.code === 410;
        setTimeout(() => void (gone ? this.relist() : this.watch()).catch((e: unknown) => this.errors.push(String(e))), gone ? 0 : 100);
      },
    );
  }

  /** Ends the watch. */
  stop(): void {
    this.stopped = true;
    this.handle?.stop();
  }
}
