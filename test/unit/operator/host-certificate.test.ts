/**
 * Agent certificate renewal as a phase of the Host reconcile, with fake
 * agents and a fake CA: when it is due, what is signed for which names, what
 * status and Events say, the annotation that asks for it, and retries.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { AgentApiError } from '../../../src/api/agent/index.js';
import type { Condition, HostStatus } from '../../../src/api/index.js';
import { RENEW_CERTIFICATE_ANNOTATION, RETRY_MS } from '../../../src/controllers/host-certificate.js';
import { hostReconciler } from '../../../src/controllers/host.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import { hostObj, lagCache, managerObj, NOW, startEnv, type TestEnv } from '../support/operator-context.js';

const NS = 'prod';
const KEY = `${NS}/h1`;
const DAY = 86_400_000;

let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const iso = (ms: number) => new Date(ms).toISOString();
const status = (): HostStatus => env.client.peek(Resources.Host, NS, 'h1')!.status as HostStatus;
const certCondition = (): Condition | undefined => status().conditions?.find((c) => c.type === 'CertificateValid');
const verbs = () => env.agents.verbs().filter((v) => v.endsWith('certificateRequest') || v.endsWith('installCertificate'));

/** A connected host h1 whose agent serves a 365-day certificate issued `ageDays` ago. */
async function hostWithCertificate(ageDays: number, annotations?: Record<string, string>): Promise<void> {
  env = await startEnv();
  await env.client.create(Resources.Manager, managerObj('m', NS));
  await env.client.create(Resources.Host, hostObj('h1', NS, { address: '10.0.0.11' }, { finalizers: [FINALIZER], ...(annotations ? { annotations } : {}) }));
  const issued = NOW.getTime() - ageDays * DAY;
  env.agents.agent(KEY).certificate = { serial: 'aa01', notBefore: iso(issued), notAfter: iso(issued + 365 * DAY) };
  env.agents.connect(KEY, 16 * 2 ** 30, 8, NOW);
  env.pki.signedAt = NOW;
}

describe('agent certificate renewal', () => {
  it('leaves a certificate with more than a third of its life alone and says until when it is valid', async () => {
    await hostWithCertificate(200);
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toEqual([]);
    expect(status().certificate).toEqual({ serial: 'aa01', notAfter: iso(NOW.getTime() + 165 * DAY), notBefore: iso(NOW.getTime() - 200 * DAY) });
    expect(certCondition()).toMatchObject({ status: 'True', reason: 'Valid' });
  });

  it('renews once less than a third is left: a request from the agent, signed for the Host address, installed, capabilities read again', async () => {
    await hostWithCertificate(250);
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toEqual([`${KEY} certificateRequest`, `${KEY} installCertificate`]);
    // Signed for the names of spec.address (as enrollment does), the CSR as the agent made it.
    expect(env.pki.signed).toEqual([{ namespace: NS, hostName: 'h1', csr: `CSR-${KEY}-1`, sans: { ips: ['10.0.0.11'], dns: ['h1'] } }]);
    expect(env.agents.refreshes).toContainEqual({ key: KEY, capabilities: true });
    // The renewed certificate's issue time is the new pin: the link refuses the old one from now on.
    expect(status().certificate).toEqual({ serial: 'serial-1', notAfter: iso(NOW.getTime() + 365 * DAY), notBefore: NOW.toISOString(), renewedTime: NOW.toISOString() });
    expect(certCondition()).toMatchObject({ status: 'True', reason: 'Valid', message: `valid until ${iso(NOW.getTime() + 365 * DAY)} (renewed ${NOW.toISOString()})` });
    expect(env.recorder.events.filter((e) => e.reason === 'CertificateRenewed')).toHaveLength(1);

    // The new certificate is fresh: the next pass renews nothing and writes nothing.
    const writes = env.client.calls.applyStatus.length;
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
    expect(env.client.calls.applyStatus.length).toBe(writes);
  });

  it('the recorded issue time only rises, and the next pass pins the link to it', async () => {
    await hostWithCertificate(10);
    await env.reconcile(hostReconciler, KEY);
    expect(status().certificate?.notBefore).toBe(iso(NOW.getTime() - 10 * DAY));
    await env.reconcile(hostReconciler, KEY);
    expect(env.agents.targets.get(KEY)?.certificateIssuedNotBefore).toBe(iso(NOW.getTime() - 10 * DAY));
    // An agent reporting an older certificate (a report from before a renewal) does not lower it.
    env.agents.agent(KEY).certificate = { serial: 'aa00', notBefore: iso(NOW.getTime() - 20 * DAY), notAfter: iso(NOW.getTime() + 345 * DAY) };
    env.agents.connect(KEY, 16 * 2 ** 30, 8, NOW);
    await env.reconcile(hostReconciler, KEY);
    expect(status().certificate?.notBefore).toBe(iso(NOW.getTime() - 10 * DAY));
  });

  it('a report of another certificate than the one a renewal installed does not lift the pin above it', async () => {
    await hostWithCertificate(10);
    // Recorded by a renewal: serial-1, issued an hour ago (the operator's clock has since been stepped back).
    env.client.setStatus(Resources.Host, NS, 'h1', { ...status(), certificate: { serial: 'serial-1', notBefore: iso(NOW.getTime() - 3_600_000), notAfter: iso(NOW.getTime() + 364 * DAY), renewedTime: iso(NOW.getTime() - 120_000) } });
    // The link still reports the replaced certificate, issued (by the clock before the step) in the future.
    env.agents.agent(KEY).certificate = { serial: 'aa01', notBefore: iso(NOW.getTime() + 3_600_000), notAfter: iso(NOW.getTime() + 366 * DAY) };
    env.agents.connect(KEY, 16 * 2 ** 30, 8, NOW);
    await env.reconcile(hostReconciler, KEY);
    expect(status().certificate?.notBefore).toBe(iso(NOW.getTime() - 3_600_000));
  });

  it('a renew-before margin longer than the lifetime counts as 90 % of it: renews once, not on every pass', async () => {
    // 365 days, 40 old: due at 36.5 days with the margin capped at 328.5 days.
    await hostWithCertificate(40);
    env.ctx.agentCertRenewBeforeMs = 400 * DAY;
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
    await env.reconcile(hostReconciler, KEY);
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
  });

  it('a link that has not read the renewed certificate yet is asked again, not renewed again', async () => {
    await hostWithCertificate(250);
    env.agents.staleCapabilities = true;
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
    const refreshes = env.agents.refreshes.length;
    const result = (await env.reconcile(hostReconciler, KEY)) as { requeueAfter?: number } | undefined;
    expect(verbs()).toHaveLength(2);
    expect(env.agents.refreshes.slice(refreshes)).toContainEqual({ key: KEY, capabilities: true });
    expect(result?.requeueAfter).toBeLessThanOrEqual(5_000);
    // Once the link catches up, all is as after a plain renewal.
    env.agents.staleCapabilities = false;
    await env.agents.refresh(KEY, { capabilities: true });
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
    expect(certCondition()).toMatchObject({ status: 'True', reason: 'Valid' });
  });

  it('a pass reading the Host from before the renewal was recorded does not renew again for the same request', async () => {
    await hostWithCertificate(1, { [RENEW_CERTIFICATE_ANNOTATION]: 'r1' });
    const stale = env.client.peek(Resources.Host, NS, 'h1')!;
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
    // The informer cache still holds the Host as it was before that write.
    const restore = lagCache(env.informers.hosts, KEY, stale);
    await env.reconcile(hostReconciler, KEY);
    restore();
    expect(verbs()).toHaveLength(2);
  });

  it('renews on the renew-certificate annotation once per value, however young the certificate', async () => {
    await hostWithCertificate(1, { [RENEW_CERTIFICATE_ANNOTATION]: 'r1' });
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);
    expect(status().certificate?.renewalRequest).toBe('r1');
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(2);

    env.client.update(Resources.Host, NS, 'h1', (o) => {
      o.metadata.annotations = { [RENEW_CERTIFICATE_ANNOTATION]: 'r2' };
    });
    await new Promise((r) => setTimeout(r, 20));
    // A certificate issued less than a minute ago is not renewed again yet (a stale cache could still show r2 unanswered)...
    const result = (await env.reconcile(hostReconciler, KEY)) as { requeueAfter?: number } | undefined;
    expect(verbs()).toHaveLength(2);
    expect(result?.requeueAfter).toBe(RETRY_MS);
    // ...a minute later it is.
    env.ctx.now = () => new Date(NOW.getTime() + RETRY_MS);
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(4);
    expect(status().certificate).toMatchObject({ serial: 'serial-2', renewalRequest: 'r2' });
  });

  it('a failed renewal says why (the certificate still valid), warns once, and is retried only after the retry delay', async () => {
    await hostWithCertificate(300);
    env.agents.agent(KEY).failures.set('installCertificate', new AgentApiError(400, 'KeyMismatch', 'cert is not for the key of the pending certificate request', 'cert'));
    const result = (await env.reconcile(hostReconciler, KEY)) as { requeueAfter?: number } | undefined;
    expect(certCondition()).toMatchObject({ status: 'False', reason: 'RenewalFailed', message: expect.stringContaining('KeyMismatch') });
    expect(certCondition()!.message).toContain(`valid until ${iso(NOW.getTime() + 65 * DAY)}`);
    expect(status().phase).toBe('Up');
    expect(result?.requeueAfter).toBeLessThanOrEqual(RETRY_MS);
    expect(env.recorder.events.filter((e) => e.reason === 'CertificateRenewalFailed')).toHaveLength(1);

    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toEqual([`${KEY} certificateRequest`, `${KEY} installCertificate`]);

    env.ctx.now = () => new Date(NOW.getTime() + RETRY_MS);
    await env.reconcile(hostReconciler, KEY);
    expect(verbs()).toHaveLength(4);
    expect(certCondition()).toMatchObject({ status: 'True', reason: 'Valid', message: expect.stringContaining('renewed') });
    expect(status().certificate?.failedTime).toBeUndefined();
    expect(env.recorder.events.filter((e) => e.reason === 'CertificateRenewalFailed')).toHaveLength(1);
  });
});
