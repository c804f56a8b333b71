/**
 * Parsers for per-domain virsh output: `list --uuid [--name]`,
 * `domstate --reason`, `dominfo`, `domjobinfo --rawstats`, and the UUID of
 * a domain XML document. Pure functions over text (virsh runs in the C
 * locale, see virsh.ts).
 *
 * @packageDocumentation
 */
import { XMLParser } from 'fast-xml-parser';
import type { DomainState, JobInfo } from '../driver.js';

/**
 * virsh's state words (virshDomainStateToString) → {@link DomainState}.
 * virsh says "idle" for VIR_DOMAIN_BLOCKED and "in shutdown" for
 * VIR_DOMAIN_SHUTDOWN; the driver interface uses the enum's names.
 */
const STATES: Readonly<Record<string, DomainState>> = {
  running: 'running',
  idle: 'blocked',
  blocked: 'blocked',
  paused: 'paused',
  'in shutdown': 'shutdown',
  shutdown: 'shutdown',
  'shut off': 'shut off',
  crashed: 'crashed',
  pmsuspended: 'pmsuspended',
  'no state': 'no state',
};

/**
 * Reason words that don't slug well, to the short names libvirt's C enums
 * use (VIR_DOMAIN_PAUSED_IOERROR → "ioerror").
 */
const SPECIAL_REASONS: Readonly<Record<string, string>> = {
  'i/o error': 'ioerror',
  'api error': 'api-error',
  'from snapshot': 'from-snapshot',
  'starting up': 'starting-up',
  'post-copy': 'postcopy',
  'post-copy failed': 'postcopy-failed',
  'post-copy error': 'postcopy-failed',
};

/** Lower-case, dash-separated form of a virsh reason or event detail. */
export function slug(words: string): string {
  const lower = words.trim().toLowerCase();
  return (
    SPECIAL_REASONS[lower] ??
    lower
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
  );
}

/** Maps one of virsh's state words to a {@link DomainState}. */
export function parseStateWord(word: string): DomainState {
  const s = STATES[word.trim().toLowerCase()];
  if (!s) throw new Error(`unknown domain state ${JSON.stringify(word)}`);
  return s;
}

/** `virsh domstate --reason` output, e.g. "shut off (destroyed)". */
export function parseDomState(out: string): { state: DomainState; reason?: string } {
  const line = out.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  const m = /^(.+?)\s*(?:\((.*)\))?$/.exec(line);
  if (!m?.[1]) throw new Error(`virsh domstate: unexpected output ${JSON.stringify(out)}`);
  const state = parseStateWord(m[1]);
  const reason = m[2] !== undefined ? slug(m[2]) : undefined;
  return reason ? { state, reason } : { state };
}

/** The non-empty, trimmed lines of `virsh list --uuid`: one UUID each. */
export function parseUuidList(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.toLowerCase());
}

/** `virsh list --all --uuid --name` ("<uuid> <name>" per line) as name → UUID. */
export function parseUuidNameList(out: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^\s*([0-9a-fA-F-]{36})\s+(.+?)\s*$/.exec(line);
    if (m?.[1] && m[2]) map.set(m[2], m[1].toLowerCase());
  }
  return map;
}

/** The fields of `virsh dominfo` the driver uses. */
export interface DomInfo {
  name: string;
  uuid: string;
  state: DomainState;
  persistent: boolean;
}

/** `virsh dominfo` ("Key:   value" lines). */
export function parseDomInfo(out: string): DomInfo {
  const fields = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const name = fields.get('Name');
  const uuid = fields.get('UUID');
  const state = fields.get('State');
  if (name === undefined || uuid === undefined || state === undefined) {
    throw new Error(`virsh dominfo: missing Name, UUID or State in ${JSON.stringify(out)}`);
  }
  return { name, uuid: uuid.toLowerCase(), state: parseStateWord(state), persistent: fields.get('Persistent') === 'yes' };
}

/** virDomainJobType, by number (what `--rawstats` prints). */
const JOB_TYPES: readonly JobInfo['type'][] = ['none', 'bounded', 'unbounded', 'completed', 'failed', 'cancelled'];

/** virDomainJobOperation, by number. */
const JOB_OPERATIONS: readonly string[] = [
  'unknown',
  'start',
  'save',
  'restore',
  'migration-in',
  'migration-out',
  'snapshot',
  'snapshot-revert',
  'dump',
  'backup',
  'snapshot-delete',
];

/**
 * `virsh domjobinfo --rawstats`: "Job type: N" followed by "key: value"
 * typed parameters. Raw stats are exact integers; the default output
 * rounds sizes to three decimals of MiB.
 */
export function parseJobInfoRaw(out: string): JobInfo {
  const typeNum = /^Job type:\s*(\d+)/m.exec(out)?.[1];
  if (typeNum === undefined) throw new Error(`virsh domjobinfo: no "Job type" in ${JSON.stringify(out)}`);
  const type = JOB_TYPES[Number.parseInt(typeNum, 10)];
  if (!type) throw new Error(`virsh domjobinfo: unknown job type ${typeNum}`);
  const params = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^\s*([a-z_]+):\s*(-?\d+)\s*$/.exec(line);
    if (m?.[1] && m[2] !== undefined) params.set(m[1], Number(m[2]));
  }
  const info: JobInfo = { type };
  const op = params.get('operation');
  if (op !== undefined) info.operation = JOB_OPERATIONS[op] ?? `operation-${op}`;
  const set = <K extends keyof JobInfo>(key: K, param: string): void => {
    const v = params.get(param);
    if (v !== undefined) (info as Record<K, unknown>)[key] = v;
  };
  set('elapsedMs', 'time_elapsed');
  set('dataTotalBytes', 'data_total');
  set('dataProcessedBytes', 'data_processed');
  set('dataRemainingBytes', 'data_remaining');
  set('memoryIteration', 'memory_iteration');
  return info;
}

const domainXml = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

/** The `<uuid>` of a domain XML document, lower-cased, or `undefined` when it has none. */
export function domainXmlUuid(doc: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = domainXml.parse(doc);
  } catch {
    return undefined;
  }
  const domain = (parsed as { domain?: unknown }).domain;
  const uuid = domain !== null && typeof domain === 'object' ? (domain as { uuid?: unknown }).uuid : undefined;
  return typeof uuid === 'string' ? uuid.trim().toLowerCase() : undefined;
}
