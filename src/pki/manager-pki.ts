/**
 * The Manager's PKI over Secrets: one CA per Manager (Secret `<manager>-ca`,
 * type kubernetes.io/tls, label `drover.io/manager=<manager>`), the
 * operator's client certificate (in memory only, renewed before expiry) and
 * the agents' certificates signed from enrollment CSRs.
 *
 * Every replica may run this at once: the CA is created with create-or-read
 * (the API server decides which replica's CA wins), client certificates are
 * per process, and nothing is written after creation.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentClientTls } from '../agent/client/index.js';
import { caCertHash } from './ca-hash.js';
import { createSelfSignedCa, InvalidCsrError, issueKeyAndCert, signCsr, subjectAltNameExtension, type PemKeyPair } from './openssl.js';
import { SecretAlreadyExistsError, type SecretStore, type StoredSecret } from './secret-store.js';
import type { ManagerCa, ManagerPkiProvider } from './types.js';

/** Label naming the Manager a CA Secret belongs to. */
export const MANAGER_LABEL = 'drover.io/manager';
/** Secret type of the CA (kubectl and cert tooling understand it). */
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
/** Subject of the operator's client certificate: agents may authorize on the group. */
export const OPERATOR_CLIENT_SUBJECT = { commonName: 'drover-operator', organization: 'drover:operators' } as const;

/** Name of the CA Secret of Manager `managerName`. */
export function caSecretName(managerName: string): string {
  return `${managerName}-ca`;
}

/** Subject alternative names of an agent certificate. */
export interface AgentSans {
  ips: string[];
  dns: string[];
}

/** A signed agent certificate. */
export interface SignedAgentCert {
  certPem: string;
  /** The CA that signed it, for the agent to trust the operator's client certificate. */
  caPem: string;
  /** RFC 3339. */
  notAfter: string;
}

/** The namespace has no Manager CA yet. */
export class NoCaError extends Error {
  constructor(readonly namespace: string) {
    super(`namespace ${namespace} has no Manager CA yet`);
    this.name = 'NoCaError';
  }
}

/** What the enrollment server needs from the PKI. */
export interface AgentCertificateSigner {
  /** The CA of `namespace`, undefined when there is none. */
  findCa(namespace: string): Promise<ManagerCa | undefined>;
  /**
   * Signs an agent's CSR: CN=`hostName`, server and client auth, SANs from
   * `sans` only (the caller takes them from the Host object, never from the
   * CSR, whose subject and extensions are ignored).
   * @throws NoCaError when the namespace has no CA; InvalidCsrError for a bad CSR.
   */
  signAgentCsr(namespace: string, hostName: string, csrPem: string, sans: AgentSans): Promise<SignedAgentCert>;
}

/** Options of {@link ManagerPki}. */
export interface ManagerPkiOptions {
  store: SecretStore;
  log?: Logger;
  /** Current time (a seam for tests). */
  now?: () => Date;
  /** CA validity; default 10 years. */
  caDays?: number;
  /** Operator client certificate validity; default 30 days. */
  clientCertDays?: number;
  /** Agent certificate validity; default 1 year. */
  agentCertDays?: number;
  /** How long a namespace's CA, once read, is reused without asking the API server; default 30 s. */
  caCacheMs?: number;
  /**
   * How long "this namespace has no CA" is believed; default 5 s. Heartbeats
   * ask for client TLS often; a CA this process creates is seen at once.
   */
  caMissCacheMs?: number;
}

/** A CA read from its Secret. */
interface LoadedCa {
  info: ManagerCa;
  cert: X509Certificate;
  pair: PemKeyPair;
  loadedAt: number;
}

interface IssuedClient {
  tls: AgentClientTls;
  notBefore: number;
  notAfter: number;
}

/** A CA Secret's contents checked, or the reason it is unusable. */
function parseCaSecret(secret: StoredSecret): { cert: X509Certificate; pair: PemKeyPair } | string {
  if (secret.type !== TLS_SECRET_TYPE) return `type is ${secret.type}, not ${TLS_SECRET_TYPE}`;
  const certPem = secret.data['tls.crt'];
  const keyPem = secret.data['tls.key'];
  if (!certPem || !keyPem) return 'tls.crt or tls.key is missing';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return 'tls.crt is not a certificate';
  }
  if (!cert.ca) return 'tls.crt is not a CA certificate';
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'tls.key does not match tls.crt';
  } catch {
    return 'tls.key is not a private key';
  }
  return { cert, pair: { certPem, keyPem } };
}

function toManagerCa(secret: StoredSecret, cert: X509Certificate, certPem: string): ManagerCa {
  return {
    secretName: secret.name,
    caCertPem: certPem,
    caCertHash: caCertHash(cert),
    notAfter: new Date(cert.validTo).toISOString(),
  };
}

/** The operator's {@link ManagerPkiProvider}, also the enrollment server's signer. */
export class ManagerPki implements ManagerPkiProvider, AgentCertificateSigner {
  private readonly store: SecretStore;
  private readonly now: () => Date;
  private readonly caCache = new Map<string, LoadedCa>();
  /** When a namespace was last found without a CA. */
  private readonly caMisses = new Map<string, number>();
  /** Operator client certificates by CA fingerprint (a replaced CA gets a new one). */
  private readonly clientCerts = new Map<string, Promise<IssuedClient>>();

  constructor(private readonly options: ManagerPkiOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
  }

  async ensureCa(namespace: string, managerName: string): Promise<ManagerCa> {
    const name = caSecretName(managerName);
    // The Manager reconciler calls this on every reconcile: a fresh cached read saves an API call each time.
    const cached = this.caCache.get(namespace);
    if (cached && cached.info.secretName === name && Date.now() - cached.loadedAt < (this.options.caCacheMs ?? 30_000)) return cached.info;
    const existing = await this.store.get(namespace, name);
    if (existing) return this.adopt(namespace, managerName, existing);
    const commonName = `drover-ca ${namespace}.${managerName}`.slice(0, 64);
    const pair = await createSelfSignedCa(commonName, this.options.caDays ?? 3650);
    try {
      const created = await this.store.create(namespace, {
        name,
        type: TLS_SECRET_TYPE,
        labels: { [MANAGER_LABEL]: managerName },
        data: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem },
      });
      const ca = this.adopt(namespace, managerName, created);
      this.options.log?.info({ namespace, secret: name, caCertHash: ca.caCertHash }, 'created Manager CA');
      return ca;
    } catch (error) {
      if (!(error instanceof SecretAlreadyExistsError)) throw error;
      // Another replica (or person) created it first: theirs is the CA.
      const winner = await this.store.get(namespace, name);
      if (!winner) throw new Error(`secret ${namespace}/${name} was created and deleted concurrently; retry`);
      return this.adopt(namespace, managerName, winner);
    }
  }

  /** Checks an existing CA Secret, caches it, and describes it. */
  private adopt(namespace: string, managerName: string, secret: StoredSecret): ManagerCa {
    const parsed = parseCaSecret(secret);
    if (typeof parsed === 'string') throw new Error(`secret ${namespace}/${secret.name} is not a usable CA: ${parsed}`);
    if (secret.labels[MANAGER_LABEL] !== managerName) {
      // Without the label, clientTls and enrollment would not find it.
      throw new Error(`secret ${namespace}/${secret.name} lacks the label ${MANAGER_LABEL}=${managerName}`);
    }
    const info = toManagerCa(secret, parsed.cert, parsed.pair.certPem);
    this.caCache.set(namespace, { info, cert: parsed.cert, pair: parsed.pair, loadedAt: Date.now() });
    this.caMisses.delete(namespace);
    return info;
  }

  /** The CA of `namespace` (labelled Secret), from a short-lived cache or the API server. */
  private async loadCa(namespace: string): Promise<LoadedCa | undefined> {
    const cached = this.caCache.get(namespace);
    if (cached && Date.now() - cached.loadedAt < (this.options.caCacheMs ?? 30_000)) return cached;
    const missedAt = this.caMisses.get(namespace);
    if (missedAt !== undefined && Date.now() - missedAt < (this.options.caMissCacheMs ?? 5_000)) return undefined;
    const secrets = (await this.store.list(namespace, MANAGER_LABEL))
      .filter((s) => s.type === TLS_SECRET_TYPE)
      .sort((a, b) => a.name.localeCompare(b.name));
    if (secrets.length > 1) {
      this.options.log?.warn({ namespace, secrets: secrets.map((s) => s.name) }, 'several Manager CAs in one namespace; using the first by name');
    }
    for (const secret of secrets) {
      const parsed = parseCaSecret(secret);
      if (typeof parsed === 'string') {
        this.options.log?.warn({ namespace, secret: secret.name, problem: parsed }, 'ignoring unusable CA secret');
        continue;
      }
      const loaded = { info: toManagerCa(secret, parsed.cert, parsed.pair.certPem), cert: parsed.cert, pair: parsed.pair, loadedAt: Date.now() };
      this.caCache.set(namespace, loaded);
      return loaded;
    }
    this.caCache.delete(namespace);
    this.caMisses.set(namespace, Date.now());
    return undefined;
  }

  async findCa(namespace: string): Promise<ManagerCa | undefined> {
    return (await this.loadCa(namespace))?.info;
  }

  async clientTls(namespace: string): Promise<AgentClientTls | undefined> {
    const ca = await this.loadCa(namespace);
    if (!ca) return undefined;
    const key = ca.cert.fingerprint256;
    const pending = this.clientCerts.get(key);
    if (pending) {
      const issued = await pending.catch(() => undefined);
      if (issued && !this.dueForRenewal(issued)) return issued.tls;
      // Only the first caller to notice replaces it; the others share that renewal.
      if (this.clientCerts.get(key) === pending) this.clientCerts.delete(key);
    }
    let fresh = this.clientCerts.get(key);
    if (!fresh) {
      const issuing = this.issueClient(ca);
      fresh = issuing;
      this.clientCerts.set(key, issuing);
      issuing.catch(() => {
        if (this.clientCerts.get(key) === issuing) this.clientCerts.delete(key);
      });
    }
    return (await fresh).tls;
  }

  /** Renew once less than a third of the lifetime is left, as kubelet's certificate manager roughly does. */
  private dueForRenewal(issued: IssuedClient): boolean {
    const left = issued.notAfter - this.now().getTime();
    return left < (issued.notAfter - issued.notBefore) / 3;
  }

  private async issueClient(ca: LoadedCa): Promise<IssuedClient> {
    const days = this.options.clientCertDays ?? 30;
    const { certPem, keyPem } = await issueKeyAndCert(
      ca.pair,
      OPERATOR_CLIENT_SUBJECT,
      ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'],
      days,
    );
    const cert = new X509Certificate(certPem);
    return { tls: { cert: certPem, key: keyPem, ca: ca.pair.certPem }, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
  }

  async signAgentCsr(namespace: string, hostName: string, csrPem: string, sans: AgentSans): Promise<SignedAgentCert> {
    const ca = await this.loadCa(namespace);
    if (!ca) throw new NoCaError(namespace);
    // Checked before signing: a bad SAN must fail the same way whatever the CSR is.
    const san = subjectAltNameExtension({ ips: sans.ips, dns: sans.dns });
    const certPem = await signCsr({
      ca: ca.pair,
      csrPem,
      subject: { commonName: hostName },
      extensions: [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        // Server auth for the operator's calls. clientAuth is kept for certificates already issued with it;
        // agents refuse every client certificate with serverAuth (only the operator drives a host).
        'extendedKeyUsage=serverAuth,clientAuth',
        san,
      ],
      days: this.options.agentCertDays ?? 365,
    });
    const cert = new X509Certificate(certPem);
    checkAgentKey(cert);
    return { certPem, caPem: ca.pair.certPem, notAfter: new Date(cert.validTo).toISOString() };
  }
}

/** Refuses keys too weak to trust for years: EC P-256/P-384, Ed25519, or RSA of 2048 bits or more. */
function checkAgentKey(cert: X509Certificate): void {
  const key = cert.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  const ok =
    (key.asymmetricKeyType === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1')) ||
    key.asymmetricKeyType === 'ed25519' ||
    (key.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 2048);
  if (!ok) throw new InvalidCsrError('csr key must be EC P-256/P-384, Ed25519 or RSA >= 2048 bits');
}
