/**
 * What a node observes about itself for its score, and the Manager VM's
 * health check: a ping of the gateway, the load average, the free memory,
 * the management bridge, and an HTTP GET of the health URL. Each check
 * answers within its timeout and never throws: a check that cannot run
 * counts as failed.
 *
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { availableParallelism } from 'node:os';
import { readFile, stat } from 'node:fs/promises';
import type { EngineHealth } from './state-machine.js';

/** Whether `address` answers one ICMP echo within `timeoutSeconds` (ping from iputils/busybox; argv only). */
export function pingOnce(address: string, timeoutSeconds = 1): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('ping', ['-n', '-c', '1', '-W', String(timeoutSeconds), '--', address], { timeout: (timeoutSeconds + 2) * 1000 }, (error) => resolve(error === null));
  });
}

/** The 1-minute load average per CPU, from /proc/loadavg (NaN when unreadable: no penalty). */
export async function loadPerCpu(file = '/proc/loadavg'): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const load = Number(text.split(/\s+/)[0]);
  return text === '' || !Number.isFinite(load) ? Number.NaN : load / availableParallelism();
}

/** MemAvailable in MiB, from /proc/meminfo (Infinity when unreadable: no penalty). */
export async function memAvailableMiB(file = '/proc/meminfo'): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(text);
  return m ? Math.floor(Number(m[1]) / 1024) : Number.POSITIVE_INFINITY;
}

/** Whether the Linux bridge `name` exists in this node's network namespace. */
export async function bridgePresent(name: string, sysClassNet = '/sys/class/net'): Promise<boolean> {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) return false;
  return (await stat(`${sysClassNet}/${name}/bridge`).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * One health check: `good` for a 2xx answer within `timeoutMs`, `bad` for
 * anything else (refused, timed out, another status). No connection reuse:
 * a kept-alive socket to a VM that died would only delay the verdict.
 */
export function checkHealth(url: string, timeoutMs: number): Promise<Exclude<EngineHealth, 'unknown'>> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (h: 'good' | 'bad') => {
      if (!done) {
        done = true;
        resolve(h);
      }
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      const request = url.startsWith('https:') ? httpsRequest : httpRequest;
      req = request(url, { method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'drover-hosted-engine' } }, (res) => {
        res.resume();
        finish(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? 'good' : 'bad');
      });
    } catch {
      finish('bad');
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      finish('bad');
    }, timeoutMs);
    req.on('timeout', () => req.destroy());
    req.on('error', () => finish('bad'));
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}
