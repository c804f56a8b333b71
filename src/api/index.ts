/** Drover's API: schemas, types and kind registry (drover.io/v1alpha1). */
export * from './common.js';
export * from './quantity.js';
export * from './manager.js';
export * from './host.js';
export * from './storagedomain.js';
export * from './migration.js';
export * from './virtualmachine.js';
export * from './kinds.js';
export * from './conditions.js';
