/**
 * The simulated hosts' shared world, in one process: which simulated host
 * answers at which libvirt URI (so a migration can find its destination),
 * and which running domain holds each disk image (QEMU's image locking,
 * which makes a second start of the same disk fail on any host).
 *
 * @packageDocumentation
 */

/** What the fabric needs of a simulated host to migrate into it. */
export interface FabricHost {
  readonly uri: string;
}

/** Who holds a disk image's write lock: a domain on a host. */
export interface DiskHolder {
  uri: string;
  uuid: string;
}

/** An in-process registry of simulated hosts by URI, plus the disk locks they share. */
export class SimulatedFabric<H extends FabricHost = FabricHost> {
  private readonly hosts = new Map<string, H>();
  private readonly locks = new Map<string, DiskHolder>();

  /**
   * Registers a host under its URI.
   * @throws Error when another host already answers there: two hosts at one
   *   address would make migrations land on whichever registered last.
   */
  register(host: H): void {
    const existing = this.hosts.get(host.uri);
    if (existing !== undefined && existing !== host) throw new Error(`a simulated host already answers at ${host.uri}`);
    this.hosts.set(host.uri, host);
  }

  /** Forgets a host (it no longer answers migrations); its disk locks stay until released. */
  unregister(host: H): void {
    if (this.hosts.get(host.uri) === host) this.hosts.delete(host.uri);
  }

  /** The host at `uri`, if one is registered. */
  host(uri: string): H | undefined {
    return this.hosts.get(uri);
  }

  /**
   * Takes the write locks of `paths` for `holder`, all or none.
   * @returns the first path another domain holds, or undefined when all were taken.
   */
  lock(paths: readonly string[], holder: DiskHolder): string | undefined {
    for (const p of paths) {
      const h = this.locks.get(p);
      if (h !== undefined && !(h.uri === holder.uri && h.uuid === holder.uuid)) return p;
    }
    for (const p of paths) this.locks.set(p, { ...holder });
    return undefined;
  }

  /** Releases the locks `holder` has on `paths` (others' locks are left alone). */
  unlock(paths: readonly string[], holder: DiskHolder): void {
    for (const p of paths) {
      const h = this.locks.get(p);
      if (h !== undefined && h.uri === holder.uri && h.uuid === holder.uuid) this.locks.delete(p);
    }
  }

  /** Moves `from`'s locks on `paths` to `to` (a migration's switch-over). */
  handOver(paths: readonly string[], from: DiskHolder, to: DiskHolder): void {
    this.unlock(paths, from);
    for (const p of paths) this.locks.set(p, { ...to });
  }

  /** The holder of `path`'s write lock, if any. */
  holder(path: string): DiskHolder | undefined {
    const h = this.locks.get(path);
    return h === undefined ? undefined : { ...h };
  }
}
