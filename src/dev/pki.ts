/**
 * Certificates for the development control plane and the development
 * Manager CA, issued with the agent's PKI helpers (the `openssl` command, argv
 * only). The production PKI (the operator-owned CA, host enrollment) is not
 * this: it serves kube-apiserver, admins, and the test bed's agents.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { createCa, issueClientCert, issueServerCert } from '../agent/pki/pki.js';

/** Paths of the files made by ensureControlPlanePki. */
export interface ControlPlanePki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** Creates (once) the CA, serving, admin and service-account keys in `dir`, with the agent's PKI helpers. */
export async function ensureControlPlanePki(dir: string): Promise<ControlPlanePki> {
  const pki: ControlPlanePki = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
  };
  if (Object.values(pki).every((p) => existsSync(p))) return pki;
  const ca = await createCa(dir, 'ca', 'drover-dev-ca');
  await issueServerCert(dir, ca, {
    name: 'apiserver',
    commonName: 'kube-apiserver',
    ips: ['127.0.0.1'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    days: 3650,
  });
  // O=system:masters: the API server's bootstrap policy makes this client cluster admin.
  await issueClientCert(dir, ca, { name: 'admin', commonName: 'drover-admin', organization: 'system:masters', days: 3650 });
  // The service-account token signing key pair is a bare key, not a certificate.
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pki.serviceAccountKey]);
  await run('openssl', ['pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]);
  return pki;
}

/** The development Manager CA and the certificates it issues to agents and the operator. */
export interface ManagerPki {
  caCert: string;
  caKey: string;
  /** Client certificate the operator presents to agents. */
  operatorCert: string;
  operatorKey: string;
  /** Server certificate per host name. */
  hosts: Record<string, { cert: string; key: string }>;
}

/**
 * Creates (once) a Manager CA in `dir`, an operator client certificate, and a
 * server certificate for each host with its IP as subjectAltName. (The
 * operator-owned CA with bootstrap-token enrollment replaces this outside dev.)
 */
export async function ensureManagerPki(dir: string, hosts: readonly { name: string; ip: string }[]): Promise<ManagerPki> {
  const ca = { cert: join(dir, 'manager-ca.crt'), key: join(dir, 'manager-ca.key') };
  if (!existsSync(ca.cert) || !existsSync(ca.key)) await createCa(dir, 'manager-ca', 'drover-manager-ca');
  const operator = { cert: join(dir, 'operator.crt'), key: join(dir, 'operator.key') };
  if (!existsSync(operator.cert)) {
    await issueClientCert(dir, ca, { name: 'operator', commonName: 'drover-operator', organization: 'drover', days: 3650 });
  }
  const issued: ManagerPki['hosts'] = {};
  for (const host of hosts) {
    const files = { cert: join(dir, `host-${host.name}.crt`), key: join(dir, `host-${host.name}.key`) };
    if (!existsSync(files.cert)) {
      await issueServerCert(dir, ca, { name: `host-${host.name}`, commonName: host.name, ips: [host.ip], dnsNames: [host.name], days: 825 });
    }
    issued[host.name] = files;
  }
  return { caCert: ca.cert, caKey: ca.key, operatorCert: operator.cert, operatorKey: operator.key, hosts: issued };
}
