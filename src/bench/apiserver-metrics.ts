/**
 * Request counts from kube-apiserver's own /metrics (apiserver_request_total),
 * so a benchmark counts every request the operator made, by verb and resource.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { ControlPlaneState } from '../dev/controlplane.js';

/** Counts keyed by `VERB resource[/subresource]`. */
export type RequestCounts = Map<string, number>;

/** Scrapes apiserver_request_total as cluster admin. */
export function scrapeRequests(state: ControlPlaneState): Promise<RequestCounts> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.url}/metrics`,
      { ca: readFileSync(state.pki.caCert), cert: readFileSync(state.pki.adminCert), key: readFileSync(state.pki.adminKey) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(parseRequests(body)));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Parses the exposition text into counts. */
export function parseRequests(text: string): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const resource = labels['subresource'] ? `${labels['resource']}/${labels['subresource']}` : labels['resource'];
    const key = `${labels['verb']} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.split(' ').pop()));
  }
  return counts;
}

/** after − before, dropping zeros. */
export function diffCounts(before: RequestCounts, after: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0);
    if (d > 0) out.set(key, d);
  }
  return out;
}

/** Sum of the counts whose verb is a write. */
export function writes(counts: RequestCounts, filter: (key: string) => boolean = () => true): number {
  let total = 0;
  for (const [key, value] of counts) {
    if (/^(POST|PUT|PATCH|APPLY|CREATE|UPDATE|DELETE)\b/.test(key) && filter(key)) total += value;
  }
  return total;
}
