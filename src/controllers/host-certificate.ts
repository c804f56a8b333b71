/**
 * Renewal of a host agent's certificate, a phase of the Host reconcile
 * (kubelet's certificate rotation, with the Manager deciding when): once
 * less than a third of the certificate's lifetime is left (or
 * `--agent-cert-renew-before`), or when the Host's
 * `drover.io/renew-certificate` annotation carries a value not yet answered,
 * the operator asks the agent for a certificate request over the existing
 * mutual TLS, signs it with the Manager's CA for the names of the Host's
 * `spec.address` (as enrollment does: never names the agent asks for), and
 * installs the answer. The key never leaves the host.
 *
 * A failed renewal is retried after {@link RETRY_MS} and shows as
 * `CertificateValid=False RenewalFailed` while the certificate has not
 * expired; nothing else about the Host changes.
 */
import { X509Certificate } from 'node:crypto';
import { AgentApiError } from '../api/agent/index.js';
import { ConditionType, setCondition, type HostStatus } from '../api/index.js';
import type { KubeObject } from '../kube/types.js';
import { objectKey } from '../runtime/keys.js';
import { sansForHost } from '../operator/enrollment/host-lookup.js';
import type { OperatorContext } from './context.js';

/** The annotation asking for a renewal now; any new value is one request. */
export const RENEW_CERTIFICATE_ANNOTATION = 'drover.io/renew-certificate';

/** Delay before a failed renewal is tried again. */
export const RETRY_MS = 60_000;

/** Re-check delay while the link has not yet read the renewed certificate. */
const STALE_LINK_RECHECK_MS = 5_000;

/** What the phase decided, for the Host reconcile. */
export interface CertificatePhase {
  /** Requeue the Host after this long (a retry, or the renewal deadline). */
  recheckMs?: number;
}

/** The issue time (RFC 3339) of a certificate the operator signed, or `fallback` when it cannot be read. */
function issuedAt(certPem: string, fallback: string): string {
  try {
    return new Date(new X509Certificate(certPem).validFrom).toISOString();
  } catch {
    return fallback;
  }
}

/** The later of two issue times (RFC 3339): the pin on the agent's certificate only rises. */
function newestIssue(recorded: string | undefined, served: string): string {
  if (recorded === undefined) return served;
  return Date.parse(recorded) > Date.parse(served) ? recorded : served;
}

/** CertificateValid=True; the same words on the pass that renewed and the passes after, so status does not churn. */
function validCondition(notAfter: string, renewedTime: string | undefined) {
  return { type: ConditionType.CertificateValid, status: 'True' as const, reason: 'Valid', message: `valid until ${notAfter}${renewedTime ? ` (renewed ${renewedTime})` : ''}` };
}

/**
 * Renews the agent's certificate of `object` when due and writes
 * `status.certificate` and the CertificateValid condition into `status`.
 * Only for a connected host whose agent reports its certificate.
 */
export async function reconcileCertificate(ctx: OperatorContext, object: KubeObject, status: HostStatus): Promise<CertificatePhase> {
  const key = objectKey(object.metadata.namespace, object.metadata.name);
  const link = ctx.agents.link(key);
  const current = link?.capabilities?.certificate;
  const client = ctx.agents.client(key);
  if (!current || !client) return {};
  const now = ctx.now();
  const previous = status.certificate ?? {};
  // The agent reports another certificate than the one a renewal recorded.
  const renewedAt = previous.renewedTime !== undefined ? Date.parse(previous.renewedTime) : undefined;
  const otherThanRenewed = renewedAt !== undefined && previous.serial !== undefined && previous.serial !== current.serial;
  // The link may still show the certificate a renewal just replaced (its re-read failed):
  // read again and wait, rather than renew again on every heartbeat until it catches up.
  if (otherThanRenewed && now.getTime() - renewedAt < RETRY_MS) {
    void ctx.agents.refresh(key, { capabilities: true });
    return { recheckMs: STALE_LINK_RECHECK_MS };
  }
  // An empty annotation asks for nothing.
  const request = object.metadata.annotations?.[RENEW_CERTIFICATE_ANNOTATION] || undefined;
  const requested = request !== undefined && request !== previous.renewalRequest;
  const notBefore = Date.parse(current.notBefore);
  const notAfter = Date.parse(current.notAfter);
  const lifetime = notAfter - notBefore;
  // A margin longer than a certificate lives would make every fresh one due at once (a renewal per pass): at most 90 %.
  const renewBefore = ctx.agentCertRenewBeforeMs && ctx.agentCertRenewBeforeMs > 0 ? Math.min(ctx.agentCertRenewBeforeMs, lifetime * 0.9) : lifetime / 3;
  const dueAt = notAfter - renewBefore;
  // A request is served at most once a minute: a pass reading a cache older than the write that
  // recorded the request as answered would otherwise renew a second time for the same request.
  const issuedAgo = now.getTime() - notBefore;
  if (requested && now.getTime() < dueAt && issuedAgo >= 0 && issuedAgo < RETRY_MS) return { recheckMs: RETRY_MS - issuedAgo };
  const due = requested || now.getTime() >= dueAt;
  // The pin rises with what the agent serves, except from a report of another certificate than the one
  // a renewal installed (a link not yet re-read, with the operator's clock stepped back since, would
  // otherwise lift it above the certificate just issued and lock the host out).
  const notBeforePin = otherThanRenewed ? (previous.notBefore ?? current.notBefore) : newestIssue(previous.notBefore, current.notBefore);
  status.certificate = { ...previous, serial: current.serial, notAfter: current.notAfter, notBefore: notBeforePin };
  if (!due) {
    delete status.certificate.failedTime;
    status.conditions = setCondition(status.conditions, validCondition(current.notAfter, previous.renewedTime), now);
    return { recheckMs: Math.max(1_000, Math.min(dueAt - now.getTime(), 2 ** 31 - 1)) };
  }
  // Kept in status, so an operator restart does not retry at once either.
  const failedAt = previous.failedTime !== undefined ? Date.parse(previous.failedTime) : undefined;
  if (failedAt !== undefined && now.getTime() - failedAt < RETRY_MS) return { recheckMs: RETRY_MS - (now.getTime() - failedAt) };

  const namespace = object.metadata.namespace ?? 'default';
  const sans = sansForHost(object);
  try {
    if (!sans) throw new Error('the Host has no usable spec.address to name in a certificate');
    const { csr } = await client.certificateRequest();
    const signed = await ctx.pki.signAgentCsr(namespace, object.metadata.name, csr, sans);
    const installed = await client.installCertificate(signed.certPem);
    // The link read the old certificate with the capabilities: read them again, or the next pass renews again.
    await ctx.agents.refresh(key, { capabilities: true });
    status.certificate = {
      serial: installed.serial,
      notAfter: installed.notAfter,
      // The certificate this operator just issued is the newest, whatever was recorded before (a clock stepped back included).
      notBefore: issuedAt(signed.certPem, installed.notBefore),
      renewedTime: now.toISOString(),
      ...(request !== undefined ? { renewalRequest: request } : {}),
    };
    status.conditions = setCondition(status.conditions, validCondition(installed.notAfter, status.certificate.renewedTime), now);
    ctx.events.event(object, 'Normal', 'CertificateRenewed', `agent certificate renewed (serial ${installed.serial}, valid until ${installed.notAfter}; was ${current.serial}${requested ? `, asked by ${RENEW_CERTIFICATE_ANNOTATION}` : ''})`);
    return {};
  } catch (error) {
    status.certificate.failedTime = now.toISOString();
    const why = error instanceof AgentApiError ? `the agent answered ${error.status} ${error.reason}: ${error.message}` : error instanceof Error ? error.message : String(error);
    const message = `renewal failed: ${why}; the current certificate is valid until ${current.notAfter}`;
    const before = (status.conditions ?? []).find((c) => c.type === ConditionType.CertificateValid);
    status.conditions = setCondition(status.conditions, { type: ConditionType.CertificateValid, status: 'False', reason: 'RenewalFailed', message }, now);
    if (before?.reason !== 'RenewalFailed') ctx.events.event(object, 'Warning', 'CertificateRenewalFailed', message);
    ctx.log.warn({ host: key, err: error }, 'agent certificate renewal failed');
    return { recheckMs: RETRY_MS };
  }
}
