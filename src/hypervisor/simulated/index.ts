/**
 * The simulated hypervisor driver: in-memory domains with libvirt's
 * semantics and measured latencies, for control-plane scale benchmarks only
 * (never for functional tests).
 *
 * @packageDocumentation
 */
export { SimulatedDriver, type SimulatedDriverOptions } from './driver.js';
export { SimulatedFabric, type DiskHolder, type FabricHost } from './fabric.js';
export { MEASURED_LIBVIRT_LATENCIES, MEASURED_MIGRATION_MIBPS, scaleLatencies, type SimulatedLatencies } from './latencies.js';
export { readDefinition, type DefinitionHost, type SimulatedDefinition } from './definition.js';
export { MigrationJob, DEVICE_STATE_BYTES, type MigrationJobOptions } from './migration-job.js';
export { SimulatedEventBus } from './event-bus.js';
