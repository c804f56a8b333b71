import { afterEach, describe, expect, it } from '@jest/globals';
import { HealthServer } from '../../../src/runtime/health-server.js';
import { Registry } from '../../../src/runtime/metrics.js';

const servers: HealthServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(registry?: Registry): Promise<{ server: HealthServer; url: (path: string) => string }> {
  const server = new HealthServer({ host: '127.0.0.1', port: 0, registry, checkTimeoutMs: 200 });
  servers.push(server);
  await server.listen();
  return { server, url: (path) => `http://127.0.0.1:${server.port()}${path}` };
}

describe('HealthServer', () => {
  it('answers /healthz with ok while the process runs', async () => {
    const { url } = await start();
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  it('reports readiness from named checks, listing failures and, with ?verbose, every check', async () => {
    const { server, url } = await start();
    let synced = false;
    server.addReadyzCheck('ping', () => true);
    server.addReadyzCheck('informers-synced', () => {
      if (!synced) throw new Error('informers not synced:\nVirtualMachine');
    });
    server.addReadyzCheck('leader', () => false);

    let res = await fetch(url('/readyz'));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(
      '[-]informers-synced failed: informers not synced: VirtualMachine\n[-]leader failed: check returned false\nreadyz check failed\n',
    );

    res = await fetch(url('/readyz?verbose'));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(
      '[+]ping ok\n[-]informers-synced failed: informers not synced: VirtualMachine\n[-]leader failed: check returned false\nreadyz check failed\n',
    );

    synced = true;
    server.addReadyzCheck('leader', async () => true);
    res = await fetch(url('/readyz'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    res = await fetch(url('/readyz?verbose=1'));
    expect(await res.text()).toBe('[+]ping ok\n[+]informers-synced ok\n[+]leader ok\nreadyz check passed\n');
  });

  it('fails a check that hangs instead of hanging the probe', async () => {
    const { server, url } = await start();
    server.addReadyzCheck('stuck', () => new Promise(() => {}));
    const res = await fetch(url('/readyz'));
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('[-]stuck failed: timed out after 200ms');
  });

  it('serves the registry on /metrics with the Prometheus content type', async () => {
    const registry = new Registry();
    registry.counter({ name: 'drover_test_total', help: 'Test.' }).inc(5);
    const { url } = await start(registry);
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe('# HELP drover_test_total Test.\n# TYPE drover_test_total counter\ndrover_test_total 5\n');
  });

  it('returns 404 for unknown paths (and /metrics without a registry) and 405 for other methods', async () => {
    const { url } = await start();
    expect((await fetch(url('/nope'))).status).toBe(404);
    expect((await fetch(url('/metrics'))).status).toBe(404);
    const post = await fetch(url('/healthz'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('close() stops accepting connections', async () => {
    const { server, url } = await start();
    const address = url('/healthz');
    await fetch(address).then((r) => r.text());
    await server.close();
    await expect(fetch(address)).rejects.toThrow();
  });
});
