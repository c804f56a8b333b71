import { describe, expect, it } from '@jest/globals';
import { AgentTransportError } from '../../../../src/agent/client/index.js';
import { classifyFailure, endpoint } from '../../../../src/operator/agents/index.js';

const err = (code: string | undefined, message: string) => new AgentTransportError(`GET /v1/host/stats: ${message}`, code);

describe('classifyFailure', () => {
  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate', /not signed by the Manager's CA/],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain', /not signed by the Manager's CA/],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', /not signed by the Manager's CA/],
    ['CERT_HAS_EXPIRED', 'certificate has expired', /has expired/],
    ['CERT_RETIRED', "the agent's certificate (serial 0a, issued Jan 1 00:00:00 2026 GMT) was replaced by one issued 2026-02-01T00:00:00Z: it is retired", /serves a retired certificate/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", /does not name 10\.0\.0\.5/],
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'sslv3 alert certificate unknown', /refused the operator's client certificate/],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate', /refused the operator's client certificate/],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', /refused the operator's client certificate/],
    [undefined, 'self-signed certificate', /failed on a certificate/],
  ])('%s is CertificateRejected', (code, message, summary) => {
    const v = classifyFailure(err(code, message), '10.0.0.5', 8443);
    expect(v.state).toBe('CertificateRejected');
    expect(v.message).toMatch(summary);
    expect(v.message).toContain('10.0.0.5:8443');
    expect(v.message).toContain(message);
  });

  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:8443', /refused the connection/],
    ['ETIMEDOUT', 'no answer within 15000 ms', /did not answer in time/],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.5:8443', /no route/],
    ['ECONNRESET', 'socket hang up', /closed the connection/],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND', /cannot resolve/],
    [undefined, 'something odd', /cannot reach/],
  ])('%s is Unreachable', (code, message, summary) => {
    const v = classifyFailure(err(code, message), '10.0.0.5', 8443);
    expect(v.state).toBe('Unreachable');
    expect(v.message).toMatch(summary);
    expect(v.message).toContain('10.0.0.5:8443');
  });

  it('brackets IPv6 addresses', () => {
    expect(endpoint('fd00::5', 8443)).toBe('[fd00::5]:8443');
    expect(classifyFailure(err('ECONNREFUSED', 'refused'), 'fd00::5', 8443).message).toContain('[fd00::5]:8443');
  });
});
