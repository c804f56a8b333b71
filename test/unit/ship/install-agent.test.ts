import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(import.meta.dirname, '../../..');
const script = join(root, 'deploy/host/install-agent.sh');
const TOKEN = 'abcdef.0123456789abcdef';
const HASH = `sha256:${'ab'.repeat(32)}`;

async function install(flags: Record<string, string>): Promise<{ code: number; stderr: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-install-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const args = ['--root', join(dir, 'root'), '--bootstrap-token-file', tokenFile];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, v);
  try {
    const r = await promisify(execFile)('bash', [script, ...args]);
    return { code: 0, stderr: r.stderr, dir: join(dir, 'root') };
  } catch (error) {
    const e = error as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr, dir: join(dir, 'root') };
  }
}

const good = { 'enroll-url': 'https://drover.example.com:9443', namespace: 'site-a', 'host-name': 'hv-01', 'ca-cert-hash': HASH };

describe('deploy/host/install-agent.sh', () => {
  it('writes the unit, the agent flags with bootstrap-token enrollment, and the token readable by root only', async () => {
    const r = await install(good);
    expect(r).toMatchObject({ code: 0 });
    const env = readFileSync(join(r.dir, 'etc/drover/agent.env'), 'utf8');
    const args = /^DROVER_AGENT_ARGS="(.*)"$/m.exec(env)![1]!.split(' ');
    expect(args).toEqual(
      expect.arrayContaining([
        '--enroll-url=https://drover.example.com:9443',
        '--bootstrap-token-file=/etc/drover/bootstrap-token',
        '--host-name=hv-01',
        '--namespace=site-a',
        `--ca-cert-hash=${HASH}`,
        '--state-dir=/var/lib/drover/agent',
        '--listen=0.0.0.0:54321',
      ]),
    );
    // The token never appears among the flags (they are visible in the process list).
    expect(env).not.toContain(TOKEN);
    const tokenPath = join(r.dir, 'etc/drover/bootstrap-token');
    expect(readFileSync(tokenPath, 'utf8').trim()).toBe(TOKEN);
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(r.dir, 'var/lib/drover/agent')).mode & 0o777).toBe(0o700);
    const unit = readFileSync(join(r.dir, 'etc/systemd/system/drover-agent.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/drover agent \$DROVER_AGENT_ARGS$/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/drover\/agent.env$/m);
    // Storage the agent mounts must be visible to libvirtd: no private mount namespace.
    expect(unit).not.toMatch(/^(PrivateTmp|ProtectSystem|ProtectHome|PrivateMounts)=/m);
  });

  it('the flags it writes are ones drover agent accepts', () => {
    const source = readFileSync(join(root, 'src/cli/agent-command.ts'), 'utf8');
    const installer = readFileSync(script, 'utf8');
    const written = [...installer.matchAll(/"--([a-z-]+)=/g)].map((m) => m[1]!);
    expect(written.length).toBeGreaterThanOrEqual(8);
    for (const flag of written) expect({ flag, known: source.includes(`'${flag}': {`) || source.includes(`${flag}: {`) }).toEqual({ flag, known: true });
  });

  it.each([
    [{ ...good, 'ca-cert-hash': 'sha256:xyz' }, /ca-cert-hash/],
    [{ ...good, 'enroll-url': 'http://drover.example.com:9443' }, /https/],
    [{ ...good, 'host-name': 'HV_01' }, /host-name/],
    [{ ...good, namespace: '' }, /namespace/],
  ])('refuses bad input without writing anything (%#)', async (flags, message) => {
    const r = await install(flags as Record<string, string>);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(r.dir, 'etc/drover'))).toBe(false);
  });
});
