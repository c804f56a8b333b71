import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { AGENT_ROUTES, AgentApiError, apiErrorFromZod, buildPath, formatFieldPath, parseEventId, vmSpec } from '../../../src/api/agent/index.js';
import { EventHub, MethodNotAllowedError, Router, formatSseMessage } from '../../../src/agent/server/index.js';
import { SseParser } from '../../../src/agent/client/index.js';
import { KeyedMutex } from '../../../src/agent/vms/index.js';
import { toApiError } from '../../../src/agent/server/errors.js';
import { InvalidDomainSpecError } from '../../../src/hypervisor/domainxml/index.js';
import { vmSpec as validSpec } from './support/specs.js';

describe('Router', () => {
  const router = new Router(AGENT_ROUTES);
  it('matches literal and parameter segments, decoding parameters', () => {
    expect(router.match('GET', '/v1/storage/domains/data/volumes')).toMatchObject({ id: 'volumeList', params: { name: 'data' } });
    expect(router.match('POST', '/v1/storage/domains/a%2Fb/volumes/c/resize')).toMatchObject({ id: 'volumeResize', params: { name: 'a/b', volume: 'c' } });
    expect(router.match('DELETE', '/v1/vms/x/migration').id).toBe('vmMigrationCancel');
  });
  it('answers 404 for unknown paths (including trailing slashes and empty segments) and 405 with the allowed methods', () => {
    for (const p of ['/v1/vms/', '/v1//vms', '/v1/vms/x/y/z', '/v2/vms', '/']) {
      expect(() => router.match('GET', p)).toThrow(expect.objectContaining({ status: 404 }));
    }
    const e = (() => {
      try {
        router.match('PUT', '/v1/host/stats');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(MethodNotAllowedError);
    expect((e as MethodNotAllowedError).allowed).toEqual(['GET']);
  });
  it('builds paths with encoded parameters', () => {
    expect(buildPath('/v1/storage/domains/:name/volumes/:volume', { name: 'a/b', volume: '..' })).toBe('/v1/storage/domains/a%2Fb/volumes/..');
    expect(() => buildPath('/v1/vms/:uid', {})).toThrow(/missing path parameter uid/);
  });
  it('has one route per method and path', () => {
    const keys = Object.values(AGENT_ROUTES).map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('EventHub', () => {
  it('numbers events, keeps a bounded ring and replays after an id', () => {
    const hub = new EventHub({ capacity: 3, bootId: 'b1' });
    const seen: number[] = [];
    const off = hub.subscribe((e) => seen.push(e.seq));
    for (let i = 0; i < 5; i++) hub.publish({ type: 'AgentStarted', version: 'v', bootId: 'b1' });
    off();
    hub.publish({ type: 'AgentStarted', version: 'v', bootId: 'b1' });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(hub.replay('b1-4').events.map((e) => e.seq)).toEqual([5, 6]);
    expect(hub.replay('b1-3')).toMatchObject({ lost: false });
    expect(hub.replay('b1-3').events.map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(hub.replay('b1-2').lost).toBe(true);
    expect(hub.replay('b1-6')).toEqual({ lost: false, events: [] });
    expect(hub.replay('b1-7').lost).toBe(true);
    expect(hub.replay('other-5').lost).toBe(true);
    expect(hub.replay('garbage').lost).toBe(true);
    expect(hub.replay(undefined)).toEqual({ lost: false, events: [] });
  });
  it('parses ids', () => {
    expect(parseEventId('abc123-42')).toEqual({ bootId: 'abc123', seq: 42 });
    expect(parseEventId('a-b-1')).toBeUndefined();
    expect(parseEventId('-1')).toBeUndefined();
  });
});

describe('SSE framing', () => {
  it('round-trips messages through the parser, across arbitrary chunk boundaries and line endings', () => {
    const hub = new EventHub({ bootId: 'b' });
    const e = hub.publish({ type: 'VmLifecycle', uid: 'u', name: 'n', event: 'started', detail: 'line1\nline2' });
    const text = `retry: 1000\n\n: heartbeat\n\n${formatSseMessage(e)}${formatSseMessage({ type: 'EventsLost', time: 't', message: 'm' })}`;
    for (const step of [1, 3, 7, text.length]) {
      const parser = new SseParser();
      const out = [];
      for (let i = 0; i < text.length; i += step) out.push(...parser.push(text.slice(i, i + step)));
      expect(out).toHaveLength(2);
      expect(out[0]).toMatchObject({ event: 'VmLifecycle', id: 'b-1' });
      expect(JSON.parse(out[0]?.data ?? '')).toEqual(e);
      expect(out[1]?.id).toBeUndefined();
    }
    const crlf = new SseParser().push('id: x-1\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\n');
    expect(crlf).toEqual([{ event: 'a', id: 'x-1', data: '1\n2' }]);
  });
  it('decodes UTF-8 split across chunks', () => {
    const bytes = Buffer.from('data: 💥\n\n', 'utf8');
    const parser = new SseParser();
    const out = [...parser.push(bytes.subarray(0, 8)), ...parser.push(bytes.subarray(8))];
    expect(out[0]?.data).toBe('💥');
  });
});

describe('errors', () => {
  it('formats zod paths as fields', () => {
    expect(formatFieldPath(['disks', 0, 'volume'])).toBe('disks[0].volume');
    expect(formatFieldPath([])).toBe('');
    const r = vmSpec.safeParse({ ...validSpec(), extra: 1 }, { reportInput: true });
    if (r.success) throw new Error('expected failure');
    expect(apiErrorFromZod(r.error).toBody()).toEqual({ error: { code: 400, reason: 'UnknownField', message: 'extra: unknown field', field: 'extra' } });
    const m = z.strictObject({ a: z.string() }).safeParse({}, { reportInput: true });
    if (m.success) throw new Error('expected failure');
    expect(apiErrorFromZod(m.error, 0)).toMatchObject({ status: 0, reason: 'MissingField', field: 'a', message: 'a: is required' });
  });
  it('maps domain XML validation errors to the agent spec field names', () => {
    expect(toApiError(new InvalidDomainSpecError(['interfaces[1].mac: "x" must match …']))).toMatchObject({ status: 422, reason: 'InvalidSpec', field: 'nics[1].mac' });
    expect(toApiError(new InvalidDomainSpecError(['disks[0].path: "/a/../b" must not contain ".." segments'])).field).toBe('disks[0].volume');
    expect(toApiError(new InvalidDomainSpecError(['hypervisor: "x" must be one of kvm, qemu'])).field).toBe('acceleration');
    expect(toApiError(new AgentApiError(418, 'Teapot', 'x'))).toMatchObject({ status: 418 });
    expect(toApiError({ kind: 'LeaseHeld', message: 'm' })).toMatchObject({ status: 409, reason: 'LeaseHeld' });
    expect(toApiError('weird')).toMatchObject({ status: 500, reason: 'Internal' });
  });
});

describe('KeyedMutex', () => {
  it('runs calls for one key one at a time, and other keys in parallel', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const step = (key: string, tag: string, ms: number) =>
      m.run(key, async () => {
        log.push(`${tag}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${tag}-`);
      });
    await Promise.all([step('a', 'a1', 20), step('a', 'a2', 1), step('b', 'b1', 5)]);
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
    await expect(m.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(m.run('a', async () => 'after')).resolves.toBe('after');
  });
});
