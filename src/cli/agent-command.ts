/**
 * `drover agent`: the host agent daemon (VDSM's role). HTTPS with mutual TLS
 * only, driving the local libvirt through the hypervisor driver and the
 * storage domains through the storage manager.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { createAgentServer } from '../agent/server/index.js';
import { LibvirtDriver } from '../hypervisor/libvirt/index.js';
import { CachedListDriver } from '../hypervisor/cached-list.js';
import { FileStorageManager } from '../agent/storage/index.js';
import { parseDuration } from './duration.js';

/** The agent's version, reported in capabilities. */
export const AGENT_VERSION = '0.1.0';

/** Runs the agent with flags from `argv` until SIGTERM/SIGINT. */
export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', default: '0.0.0.0:54321' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'libvirt-uri': { type: 'string', default: 'qemu:///system' },
      acceleration: { type: 'string', default: 'auto' },
      'state-dir': { type: 'string', default: '/var/lib/drover/agent' },
      heartbeat: { type: 'string', default: '15s' },
    },
    strict: true,
  });
  if (!values.cert || !values.key || !values.ca) {
    process.stderr.write('drover agent needs --cert, --key and --ca (mutual TLS is not optional)\n');
    return 2;
  }
  const acceleration = values.acceleration;
  if (acceleration !== 'auto' && acceleration !== 'kvm' && acceleration !== 'tcg') {
    process.stderr.write('--acceleration must be auto, kvm or tcg\n');
    return 2;
  }
  const [host, port] = values.listen.split(/:(?=[^:]*$)/);
  const log = createLogger('agent');
  const server = createAgentServer({
    tls: { cert: readFileSync(values.cert), key: readFileSync(values.key), ca: readFileSync(values.ca) },
    host: host || '0.0.0.0',
    port: Number(port ?? 54321),
    driver: new CachedListDriver(new LibvirtDriver({ uri: values['libvirt-uri'], acceleration })),
    storage: new FileStorageManager({ stateDir: values['state-dir'] }),
    logger: log,
    version: AGENT_VERSION,
    heartbeatMs: parseDuration(values.heartbeat),
  });
  await server.listen();
  log.info({ port: server.port(), libvirt: values['libvirt-uri'] }, 'agent listening');
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'agent stopping');
      void server.close().then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
