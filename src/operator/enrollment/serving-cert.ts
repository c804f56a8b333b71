/**
 * The enrollment server's TLS certificate: self-signed and made at startup.
 * TLS only hides the CSR and the answer from onlookers; the agent does not
 * (cannot, before enrolling) verify it. Authenticity comes from the token
 * HMACs and the optional CA hash pin.
 */
import { hostname } from 'node:os';
import { createSelfSignedServerCert, DNS_NAME, type PemKeyPair } from '../../pki/openssl.js';

/** A fresh self-signed serving certificate, valid one year (a restart makes a new one). */
export async function generateServingCert(): Promise<PemKeyPair> {
  const dns = ['drover-enrollment', 'localhost'];
  const own = hostname().toLowerCase();
  if (DNS_NAME.test(own) && !dns.includes(own)) dns.push(own);
  return createSelfSignedServerCert('drover-enrollment', { dns, ips: ['127.0.0.1'] }, 365);
}
