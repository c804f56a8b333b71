import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:tls';
import { getWith, startAgent, type Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startAgent();
});
afterAll(async () => {
  await h.close();
});

/** Handler-run evidence: request log lines, and the driver calls made by handlers. */
function handledRequests(): number {
  return h.logs.filter((l) => l['msg'] === 'request').length;
}

describe('agent mutual TLS', () => {
  it('answers a client with a certificate from the Manager CA', async () => {
    expect(await getWith(h.port, h.pki.ca, h.pki.client)).toBe(200);
  });

  it('refuses a client without a certificate before any handler runs', async () => {
    const before = handledRequests();
    const calls = h.driver.calls.length;
    await expect(getWith(h.port, h.pki.ca, undefined)).rejects.toThrow();
    expect(handledRequests()).toBe(before);
    expect(h.driver.calls.length).toBe(calls);
  });

  it('refuses a certificate signed by another CA', async () => {
    const before = handledRequests();
    const calls = h.driver.calls.length;
    await expect(getWith(h.port, h.pki.ca, h.pki.foreignClient)).rejects.toThrow();
    expect(handledRequests()).toBe(before);
    expect(h.driver.calls.length).toBe(calls);
  });

  it('refuses an expired certificate from the right CA', async () => {
    const before = handledRequests();
    const calls = h.driver.calls.length;
    await expect(getWith(h.port, h.pki.ca, h.pki.expiredClient)).rejects.toThrow();
    expect(handledRequests()).toBe(before);
    expect(h.driver.calls.length).toBe(calls);
  });

  it("refuses another host's certificate from the same CA with 403 ClientNotAllowed: only the operator drives a host", async () => {
    const calls = h.driver.calls.length;
    expect(await getWith(h.port, h.pki.ca, h.pki.otherHost)).toBe(403);
    expect(await getWith(h.port, h.pki.ca, h.pki.otherHost, '/v1/host/capabilities')).toBe(403);
    expect(await getWith(h.port, h.pki.ca, h.pki.otherHost, '/v1/events')).toBe(403);
    expect(h.driver.calls.length).toBe(calls);
    // The operator's client-only certificate still gets in.
    expect(await getWith(h.port, h.pki.ca, h.pki.client)).toBe(200);
  });

  it('logs refused handshakes with the reason', async () => {
    await expect(getWith(h.port, h.pki.ca, undefined)).rejects.toThrow();
    await expect(getWith(h.port, h.pki.ca, h.pki.foreignClient)).rejects.toThrow();
    await expect(getWith(h.port, h.pki.ca, h.pki.expiredClient)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 50));
    const refused = h.logs.filter((l) => l['msg'] === 'TLS handshake refused').map((l) => String(l['reason']));
    expect(refused.some((r) => /expired/i.test(r))).toBe(true);
    expect(refused.some((r) => /peer did not return a certificate/i.test(r))).toBe(true);
    expect(refused.some((r) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to get local issuer/i.test(r))).toBe(true);
  });

  it('presents a server certificate the client verifies against the Manager CA', async () => {
    // A client that trusts only the foreign CA must refuse the agent.
    await expect(getWith(h.port, h.pki.foreignCa, h.pki.client)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    // And the agent's certificate names 127.0.0.1.
    const socket = connect({ host: '127.0.0.1', port: h.port, ca: h.pki.ca, cert: h.pki.client.cert, key: h.pki.client.key });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subjectaltname).toContain('IP Address:127.0.0.1');
    socket.destroy();
  });
});
