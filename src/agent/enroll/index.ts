/**
 * Host enrollment with a bootstrap token (the agent's side).
 *
 * @packageDocumentation
 */
export { enrollAgent, EnrollmentRefusedError, type EnrollAgentOptions, type EnrollResult } from './enroll.js';
export { credentialPaths, credentialProblem, type AgentCredentialFiles } from './files.js';
