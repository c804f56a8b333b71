/**
 * A small deterministic generator of hostile JSON for fuzzing: the same
 * seed always yields the same sequence, so a failure can be replayed.
 */

/** mulberry32: a tiny, fast, seedable PRNG. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const NASTY_STRINGS = [
  '', ' ', '..', '../', '../../etc/passwd', '/etc/shadow', 'a/b', '%2e%2e%2f', '..\\..\\windows', '\u0000', 'a\nb', '\r\n',
  'qemu+tcp://h/system?keyfile=/x', 'qemu:///system', "'; rm -rf / #", '$(reboot)', '`id`', '<domain/>', ']]>', '&amp;',
  '__proto__', 'constructor', 'prototype', 'NaN', 'Infinity', '-1', '1e309', 'true', 'null', '💥', '\u202e', 'ÄÖÜ',
  'x'.repeat(300), 'A'.repeat(5000), '52:54:00:12:34:56', '01:00:5e:00:00:01', 'data', 'root', 'br0', 'virtio', 'qcow2',
  '6f1c3a52-9d4e-4b7a-8c2d-1e5f0a9b3c7d', 'LocalFS', 'NFS', 'kvm', 'tcg', 'auto',
];

const NASTY_NUMBERS = [
  0, -0, 1, -1, 0.5, 15, 16, 511, 512, 1023, 1024 * 1024, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 1e-300,
  Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 64 * 1024 ** 4, 64 * 1024 ** 4 + 512, 3600, 600, 601, 65, 4194304, 4194305,
];

const KEYS = [
  'name', 'owner', 'namespace', 'generation', 'cpu', 'cores', 'sockets', 'threads', 'memoryMiB', 'acceleration', 'boot', 'domain',
  'kernel', 'initrd', 'cmdline', 'disks', 'volume', 'bus', 'bootOrder', 'readOnly', 'nics', 'bridge', 'mac', 'model', 'path',
  'sizeBytes', 'format', 'uuid', 'role', 'connection', 'type', 'server', 'mountOptions', 'vfsType', 'timeoutSeconds',
  'destinationURI', 'bandwidthMiBps', 'autoConverge', 'compressed', 'maxDowntimeMs', '__proto__', 'constructor', 'extra', '',
];

/** A random string: a nasty one, random characters, or a fragment of a path. */
export function randomString(rng: Rng): string {
  const r = rng.int(4);
  if (r === 0) return rng.pick(NASTY_STRINGS);
  if (r === 1) {
    let s = '';
    const len = rng.int(40);
    for (let i = 0; i < len; i++) s += String.fromCharCode(rng.chance(0.9) ? 32 + rng.int(95) : rng.int(0x3000));
    return s;
  }
  if (r === 2) return Array.from({ length: 1 + rng.int(5) }, () => rng.pick(['..', '.', 'a', 'etc', '', 'boot', 'x y'])).join('/');
  return rng.pick(NASTY_STRINGS) + rng.pick(NASTY_STRINGS);
}

/** A random number, often at a boundary. */
export function randomNumber(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick(NASTY_NUMBERS) : (rng.next() - 0.5) * 10 ** rng.int(20);
}

/** A random JSON value up to `depth` levels deep. */
export function randomJson(rng: Rng, depth = 4): unknown {
  const r = rng.int(depth <= 0 ? 4 : 7);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return randomNumber(rng);
    case 3:
      return randomString(rng);
    case 4:
    case 5: {
      const o: Record<string, unknown> = {};
      const n = rng.int(6);
      for (let i = 0; i < n; i++) o[rng.chance(0.8) ? rng.pick(KEYS) : randomString(rng)] = randomJson(rng, depth - 1);
      return o;
    }
    default:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1));
  }
}

/** A deep copy of `value` with one random change: a replaced, deleted or added member somewhere. */
export function mutate(rng: Rng, value: unknown): unknown {
  const copy = structuredClone(value) as unknown;
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (v: unknown) => {
    if (v !== null && typeof v === 'object') {
      containers.push(v as Record<string, unknown>);
      for (const c of Object.values(v)) walk(c);
    }
  };
  walk(copy);
  if (containers.length === 0) return randomJson(rng);
  const target = rng.pick(containers);
  const keys = Object.keys(target);
  const op = rng.int(3);
  if (Array.isArray(target)) {
    if (op === 0 && target.length > 0) target.splice(rng.int(target.length), 1);
    else if (op === 1 && target.length > 0) target[rng.int(target.length)] = randomJson(rng, 2);
    else target.push(rng.chance(0.5) ? structuredClone(target[0] ?? null) : randomJson(rng, 2));
  } else if (op === 0 && keys.length > 0) {
    delete (target as Record<string, unknown>)[rng.pick(keys)];
  } else if (op === 1 && keys.length > 0) {
    (target as Record<string, unknown>)[rng.pick(keys)] = rng.chance(0.5) ? randomJson(rng, 2) : rng.chance(0.5) ? randomString(rng) : randomNumber(rng);
  } else {
    (target as Record<string, unknown>)[rng.pick(KEYS)] = randomJson(rng, 2);
  }
  return copy;
}
