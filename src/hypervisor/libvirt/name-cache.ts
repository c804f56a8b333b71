/**
 * Domain name → UUID for event lines. `virsh event` names domains only by
 * name, while Drover addresses them by UUID; names are unique per host at
 * any moment but can be reused by a different UUID over time.
 *
 * @packageDocumentation
 */

/** Loads the current name → UUID table (e.g. `virsh list --all --uuid --name`). */
export type NameTableLoader = () => Promise<Map<string, string>>;

/** A name → UUID cache refreshed on demand; refreshes are coalesced. */
export class DomainNameCache {
  private names = new Map<string, string>();
  private inflight: Promise<void> | undefined;

  constructor(private readonly load: NameTableLoader) {}

  /** Records what a listing just showed (keeps the cache fresh for free). */
  remember(name: string, uuid: string): void {
    this.names.set(name, uuid);
  }

  /** Reloads the table; concurrent callers share one load. */
  refresh(): Promise<void> {
    this.inflight ??= this.load()
      .then((table) => {
        // Keep entries of domains that have vanished meanwhile: their
        // "undefined"/"stopped" events may still be queued behind this load.
        for (const [name, uuid] of table) this.names.set(name, uuid);
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /**
   * UUID for an event's domain. A `defined` event always reloads first (the
   * name may now belong to a new UUID); an unknown name reloads once; an
   * `undefined` event forgets the name after answering.
   */
  async resolve(name: string, event: string): Promise<string | undefined> {
    if (event === 'defined' || !this.names.has(name)) await this.refresh().catch(() => undefined);
    const uuid = this.names.get(name);
    if (event === 'undefined') this.names.delete(name);
    return uuid;
  }
}
