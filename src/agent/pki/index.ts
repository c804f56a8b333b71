/**
 * Certificates for the agent's mutual TLS (openssl CLI, argv only).
 *
 * @packageDocumentation
 */
export { createCa, issueClientCert, issueHostCert, issueServerCert, readPem, type CertFiles, type IssueOptions, type PemPair } from './pki.js';
export { createTestPki, type TestPki } from './test-pki.js';
