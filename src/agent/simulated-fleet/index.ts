/**
 * Many host agents over simulated hypervisors in one process, for
 * control-plane scale benchmarks only.
 *
 * @packageDocumentation
 */
export { startSimulatedFleet, SIMULATED_AGENT_VERSION, type SimulatedAgent, type SimulatedFleet, type SimulatedFleetOptions } from './fleet.js';
export { fleetAddresses, fleetHosts, DEFAULT_FIRST_FLEET_ADDRESS, DEFAULT_FLEET_NAME_PREFIX, type FleetHost } from './addresses.js';
export { createFleetPki, type FleetPki } from './pki.js';
