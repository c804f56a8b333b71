/**
 * `drover operator --help`: prints every flag with its meaning and exits 0
 * without connecting anywhere.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { operatorCommand, operatorUsage } from '../../../src/cli/operator-command.js';

describe('drover operator --help', () => {
  it('prints the usage and returns 0 without starting the operator', async () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      // A kubeconfig that does not exist: starting the operator would throw.
      await expect(operatorCommand(['--help', '--kubeconfig=/nonexistent/kubeconfig'])).resolves.toBe(0);
      await expect(operatorCommand(['-h'])).resolves.toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(writes.join('')).toBe(operatorUsage().repeat(2));
  });

  it('lists each flag once, with its default where it has one', () => {
    const usage = operatorUsage();
    const flags = [...usage.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    expect(new Set(flags).size).toBe(flags.length);
    for (const flag of ['kubeconfig', 'lease-duration', 'kube-api-qps', 'vm-workers', 'console-listen', 'agent-cert-renew-before', 'help']) expect(flags).toContain(flag);
    expect(usage).toMatch(/--lease-duration +.*\(default 15s\)/);
    expect(usage).toMatch(/--kube-api-qps +.*\(default 200\)/);
    expect(usage).toMatch(/--enroll-listen +.*\(default 0\.0\.0\.0:9443\)/);
  });

  it('refuses an unknown flag', async () => {
    await expect(operatorCommand(['--no-such-flag=1'])).rejects.toThrow(/no-such-flag/);
  });

  it('every flag the README lists exists, and every flag is in the README', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('Operator flags'), readme.indexOf('Failure-detection and fencing timings live in'));
    expect(section.length).toBeGreaterThan(100);
    const inReadme = new Set([...section.matchAll(/`--([a-z-]+)`/g)].map((m) => m[1]));
    const inUsage = new Set([...operatorUsage().matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]).filter((f) => f !== 'help'));
    expect([...inReadme].filter((f) => !inUsage.has(f))).toEqual([]);
    expect([...inUsage].filter((f) => !inReadme.has(f))).toEqual([]);
  });
});
