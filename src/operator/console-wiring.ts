/**
 * Starts the console proxy from the operator's options: where it listens
 * (derived from the enrollment listener unless given), its serving
 * certificate (files, or self-signed), and the cluster's client CA.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AccessReviewer } from '../kube/access-review.js';
import type { ObjectClient } from '../kube/types.js';
import type { ManagerPki } from '../pki/manager-pki.js';
import { ConsoleProxy } from './console/index.js';
import { parseListenAddress } from './enrollment/server.js';
import { generateServingCert } from './enrollment/serving-cert.js';
import type { OperatorOptions } from './operator.js';

/** Default console port (the enrollment port is 9443). */
export const CONSOLE_PORT = 9444;

/** The console listen address: the option, or the enrollment listener's host with port 9444 (0 when enrollment's is 0); undefined when off. */
export function consoleListenAddress(options: Pick<OperatorOptions, 'consoleListen' | 'enrollListen'>): { host: string; port: number } | undefined {
  if (options.consoleListen === '') return undefined;
  if (options.consoleListen !== undefined) return parseListenAddress(options.consoleListen);
  const enroll = parseListenAddress(options.enrollListen);
  return { host: enroll.host, port: enroll.port === 0 ? 0 : CONSOLE_PORT };
}

/** Creates and starts the proxy; undefined when it is turned off. */
export async function startConsoleProxy(
  options: OperatorOptions,
  deps: { client: ObjectClient; reviewer: AccessReviewer; pki: ManagerPki; log: Logger },
): Promise<ConsoleProxy | undefined> {
  const listen = consoleListenAddress(options);
  if (!listen) return undefined;
  const tls = options.consoleTlsCertFile !== undefined && options.consoleTlsKeyFile !== undefined
    ? { cert: await readFile(options.consoleTlsCertFile), key: await readFile(options.consoleTlsKeyFile) }
    : await generateServingCert().then((p) => ({ cert: p.certPem, key: p.keyPem }));
  const proxy = new ConsoleProxy({
    ...listen,
    tls,
    ...(options.clientCaFile !== undefined ? { clientCa: await readFile(options.clientCaFile) } : {}),
    reviewer: deps.reviewer,
    client: deps.client,
    agentTls: (ns) => deps.pki.clientTls(ns),
    log: deps.log.child({ component: 'console' }),
  });
  await proxy.listen();
  return proxy;
}
