/**
 * `drover token create`: makes a bootstrap token for host enrollment (like
 * `kubeadm token create`) and prints `<id>.<secret>` and nothing else, so it
 * can be captured (`TOKEN=$(drover token create ...)`). The token lives in
 * Secret `bootstrap-token-<id>` of the namespace; enrolling consumes it.
 */
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../kube/config.js';
import { KubeSecretStore } from '../kube/secrets.js';
import { bootstrapTokenSecret, formatBootstrapToken, generateBootstrapToken } from '../pki/bootstrap-token.js';
import { SecretAlreadyExistsError } from '../pki/secret-store.js';
import { parseDuration } from './duration.js';

const USAGE = `usage: drover token create --namespace NS [--host NAME] [--ttl 24h] [--kubeconfig PATH]

  --namespace   namespace of the Manager (and Host) the token enrolls into (required)
  --host        the only Host the token may enroll (default: any Host of the namespace)
  --ttl         how long the token works: 30m, 1h, 24h (default 24h; 0 = no expiry)
  --kubeconfig  kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
`;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function usageError(message: string): number {
  process.stderr.write(`drover token: ${message}\n${USAGE}`);
  return 2;
}

/** Runs `drover token <subcommand>`. */
export async function tokenCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') return usageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`);
  let values;
  try {
    values = parseArgs({
      args: rest,
      options: {
        namespace: { type: 'string', short: 'n' },
        host: { type: 'string' },
        ttl: { type: 'string', default: '24h' },
        kubeconfig: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    return usageError((error as Error).message);
  }
  const namespace = values.namespace;
  if (namespace === undefined) return usageError('--namespace is required');
  if (namespace.length > 63 || !NAMESPACE.test(namespace)) return usageError(`"${namespace}" is not a namespace name`);
  if (values.host !== undefined && (values.host.length > 253 || !OBJECT_NAME.test(values.host))) {
    return usageError(`"${values.host}" is not a Host name`);
  }
  let ttlMs: number;
  try {
    ttlMs = parseDuration(values.ttl);
  } catch (error) {
    return usageError(`--ttl: ${(error as Error).message}`);
  }
  const store = new KubeSecretStore(loadKubeConfig(values.kubeconfig));
  // A 6-character id can collide with an existing token; a new id is the fix.
  for (let attempt = 0; attempt < 5; attempt++) {
    const token = generateBootstrapToken();
    try {
      await store.create(
        namespace,
        bootstrapTokenSecret({
          ...token,
          ...(values.host !== undefined ? { host: values.host } : {}),
          ...(ttlMs > 0 ? { expiration: new Date(Date.now() + ttlMs) } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof SecretAlreadyExistsError) continue;
      throw error;
    }
    process.stdout.write(`${formatBootstrapToken(token)}\n`);
    return 0;
  }
  process.stderr.write('drover token: could not find a free token id after 5 attempts\n');
  return 1;
}
