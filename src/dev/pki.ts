/**
 * Certificates for the development control plane, made with the `openssl`
 * command (argv only). The production PKI (the Manager's CA, host enrollment)
 * lives elsewhere; this only serves kube-apiserver, etcd clients and admins.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
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

async function keyPair(key: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
}

/** Signs a certificate for `subject` with the CA, with optional subjectAltNames and extended key usage. */
async function signed(dir: string, name: string, subject: string, ca: { cert: string; key: string }, ext: string[]): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await keyPair(key);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await writeFile(extFile, ext.join('\n') + '\n');
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '3650', '-sha256', '-extfile', extFile, '-out', join(dir, `${name}.crt`),
  ]);
}

/** Creates (once) the CA, serving, admin and service-account keys in `dir`. */
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
  await keyPair(pki.caKey);
  await run('openssl', [
    'req', '-x509', '-new', '-key', pki.caKey, '-subj', '/CN=drover-dev-ca', '-days', '3650', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', pki.caCert,
  ]);
  const ca = { cert: pki.caCert, key: pki.caKey };
  await signed(dir, 'apiserver', '/CN=kube-apiserver', ca, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
  ]);
  await signed(dir, 'admin', '/O=system:masters/CN=drover-admin', ca, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  await keyPair(pki.serviceAccountKey);
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
