/**
 * The host agent API (`/v1/`): zod schemas and types of every request,
 * answer and event, shared by the agent (validating requests) and the
 * operator (validating answers), and the route table both are driven by.
 *
 * @packageDocumentation
 */
export * from './common.js';
export * from './errors.js';
export * from './host.js';
export * from './storage.js';
export * from './vms.js';
export * from './migration.js';
export * from './events.js';
export * from './hosted-engine.js';
export * from './routes.js';
export * from './validation.js';
