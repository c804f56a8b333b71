/**
 * Parser for `virsh event --event lifecycle --loop --timestamp` lines, e.g.
 *
 * ```
 * 2026-11-25 22:49:35.668+0000: event 'lifecycle' for domain 'vm1': Stopped Failed
 * ```
 *
 * @packageDocumentation
 */
import { slug } from './parse-domain.js';

/** A lifecycle line, before the domain name is resolved to a UUID. */
export interface LifecycleLine {
  /** ISO 8601 time (UTC) libvirt stamped on the event. */
  time: string;
  /** Domain name as virsh printed it. */
  name: string;
  /**
   * Lower-case event word as virsh prints it (virshDomainEventToString):
   * defined, undefined, started, suspended, resumed, stopped, shutdown,
   * pmsuspended, crashed.
   */
  event: string;
  /** Lower-case detail, e.g. `failed`, `destroyed`, `ioerror`. */
  detail: string;
}

/**
 * Details whose virsh wording is a sentence; they get libvirt's enum names
 * (VIR_DOMAIN_EVENT_SHUTDOWN_GUEST → "guest").
 */
const DETAILS: Readonly<Record<string, string>> = {
  'finished after guest request': 'guest',
  'finished after host request': 'host',
  'event wakeup': 'wakeup',
};

const LINE = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(\d{2}): event 'lifecycle' for domain '(.*)': (\S+)(?: (.*))?$/;

/**
 * Parses one output line; `undefined` for anything that is not a lifecycle
 * event (other event types, continuation lines, blank lines).
 */
export function parseLifecycleLine(line: string): LifecycleLine | undefined {
  const m = LINE.exec(line.trimEnd());
  if (!m) return undefined;
  const [, date, clock, offH, offM, name, word, rest] = m;
  if (!date || !clock || !offH || !offM || name === undefined || !word) return undefined;
  const event = word.toLowerCase();
  const rawDetail = (rest ?? '').trim().toLowerCase();
  const detail = DETAILS[rawDetail] ?? slug(rawDetail);
  const stamp = new Date(`${date}T${clock}${offH}:${offM}`);
  const time = Number.isNaN(stamp.getTime()) ? new Date().toISOString() : stamp.toISOString();
  return { time, name, event, detail };
}
