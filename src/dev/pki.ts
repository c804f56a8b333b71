/**
 * Certificates for the development control plane, made with the `openssl`
 * command (argv only). The production PKI (the Manager's CA, host enrollment)
 * lives elsewhere; this only serves kube-apiserver, etcd clients and admins.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';

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
