/**
 * Kernel-module bookkeeping for the test guest's initramfs.
 *
 * The kernel package is extracted with `dpkg-deb -x`, never installed, so its
 * postinst never ran `depmod` and there is no `modules.dep`. The dependencies
 * are read from each module's own `.modinfo` ELF section (`depends=a,b`), the
 * same data depmod uses, which also avoids needing kmod on the host.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

/** A module file found under `/lib/modules/<version>`. */
export interface ModuleFile {
  /** Canonical module name (dashes folded to underscores, as the kernel does). */
  name: string;
  /** Absolute path of the `.ko` file. */
  file: string;
}

/** Kernel module name in canonical form (`virtio-rng` and `virtio_rng` are the same module). */
export function canonicalModuleName(name: string): string {
  return name.replace(/\.ko$/, '').replaceAll('-', '_');
}

/**
 * Reads the NUL-separated `key=value` strings of an ELF64 little-endian
 * object's `.modinfo` section.
 */
export function parseModinfo(elf: Buffer): Map<string, string[]> {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('only ELF64 little-endian modules are supported');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (i: number): { name: number; offset: number; size: number } => {
    const base = shoff + i * shentsize;
    return {
      name: elf.readUInt32LE(base),
      offset: Number(elf.readBigUInt64LE(base + 0x18)),
      size: Number(elf.readBigUInt64LE(base + 0x20)),
    };
  };
  const strtab = section(shstrndx);
  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameStart = strtab.offset + s.name;
    const nameEnd = elf.indexOf(0, nameStart);
    if (elf.toString('latin1', nameStart, nameEnd) !== '.modinfo') continue;
    for (const entry of elf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      const list = info.get(key) ?? [];
      list.push(entry.slice(eq + 1));
      info.set(key, list);
    }
    return info;
  }
  throw new Error('no .modinfo section');
}

/** Lists every `.ko` file under a module tree, keyed by canonical name. */
export async function indexModules(moduleRoot: string): Promise<Map<string, ModuleFile>> {
  const index = new Map<string, ModuleFile>();
  const entries = await readdir(moduleRoot, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith('.ko')) continue;
    const name = canonicalModuleName(e.name);
    index.set(name, { name, file: path.join(e.parentPath, e.name) });
  }
  return index;
}

/** Names of the modules compiled into the kernel (`modules.builtin`). */
export async function builtinModules(moduleRoot: string): Promise<Set<string>> {
  const text = await readFile(path.join(moduleRoot, 'modules.builtin'), 'utf8').catch(() => '');
  return new Set(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => canonicalModuleName(path.basename(line))),
  );
}

/**
 * Resolves the wanted modules and all their dependencies into a load order
 * (dependencies first). Built-in modules are dropped; a wanted module that is
 * neither built in nor present is an error, because the guest would silently
 * lack a device.
 */
export async function resolveLoadOrder(moduleRoot: string, wanted: readonly string[]): Promise<ModuleFile[]> {
  const index = await indexModules(moduleRoot);
  const builtin = await builtinModules(moduleRoot);
  const order: ModuleFile[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (raw: string, chain: string[]): Promise<void> => {
    const name = canonicalModuleName(raw);
    if (builtin.has(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const mod = index.get(name);
    if (!mod) throw new Error(`kernel module ${name} is neither built in nor present (needed by ${chain.join(' -> ') || 'request'})`);
    state.set(name, 'visiting');
    const info = parseModinfo(await readFile(mod.file));
    const deps = (info.get('depends') ?? []).flatMap((d) => d.split(',')).filter(Boolean);
    for (const dep of deps) await visit(dep, [...chain, name]);
    state.set(name, 'done');
    order.push(mod);
  };
  for (const w of wanted) await visit(w, []);
  return order;
}
