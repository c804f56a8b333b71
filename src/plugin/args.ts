/**
 * `kubectl drover` command lines: pure parsing into a command and its
 * global flags, or a one-line usage error.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';

/** One subcommand with its arguments. */
export type PluginCommand =
  | { command: 'migrate'; vm: string; to?: string }
  | { command: 'maintenance'; host: string; on: boolean }
  | { command: 'status' }
  | { command: 'console'; vm: string }
  | { command: 'help' };

/** Flags every subcommand takes. */
export interface GlobalFlags {
  /** `-n/--namespace`; undefined: the kubeconfig context's namespace. */
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  /** The console proxy's base URL (`--console-url`, or $DROVER_CONSOLE_URL). */
  consoleUrl?: string;
  /** PEM file of the CA that signed the proxy's serving certificate. */
  consoleCaFile?: string;
  insecureSkipTlsVerify: boolean;
}

/** A parsed command line. */
export interface ParsedArgs {
  cmd: PluginCommand;
  flags: GlobalFlags;
}

/** Help text. */
export const USAGE = `kubectl drover: Drover's kubectl plugin

Usage:
  kubectl drover status                       the environment at a glance: Manager, Hosts, StorageDomains, VMs
  kubectl drover migrate VM [--to HOST]       live-migrate a VM (creates a VirtualMachineMigration)
  kubectl drover maintenance HOST on|off      put a host into maintenance (drains its VMs) or take it out
  kubectl drover console VM                   the VM's serial console (Ctrl-] to leave)

Flags:
  -n, --namespace NS              namespace (default: the kubeconfig context's)
      --kubeconfig FILE           kubeconfig (default: $KUBECONFIG, ~/.kube/config)
      --context NAME              kubeconfig context
      --console-url URL           console proxy, e.g. https://drover-console.example:9444 (or $DROVER_CONSOLE_URL)
      --console-ca-file FILE      CA of the proxy's serving certificate (or $DROVER_CONSOLE_CA_FILE)
      --insecure-skip-tls-verify  do not verify the proxy's certificate
`;

/** Kubernetes object names these commands take (DNS-1123 labels, like Drover's VMs and Hosts). */
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkName(what: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`${what} is missing`);
  if (!NAME.test(value)) throw new UsageError(`${what} "${value.slice(0, 80)}" is not a valid name (lower-case letters, digits and '-', at most 63)`);
  return value;
}

class UsageError extends Error {}

/** Parses `argv` (without `node` and the script); environment variables fill flags that were not given. */
export function parsePluginArgs(argv: string[], env: Record<string, string | undefined> = {}): ParsedArgs | { error: string } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        to: { type: 'string' },
        'console-url': { type: 'string' },
        'console-ca-file': { type: 'string' },
        'insecure-skip-tls-verify': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const flags: GlobalFlags = { insecureSkipTlsVerify: values['insecure-skip-tls-verify'] ?? false };
    if (values.namespace !== undefined) flags.namespace = checkName('namespace', values.namespace);
    if (values.kubeconfig !== undefined) flags.kubeconfig = values.kubeconfig;
    if (values.context !== undefined) flags.context = values.context;
    const consoleUrl = values['console-url'] ?? env['DROVER_CONSOLE_URL'];
    if (consoleUrl) {
      let url: URL;
      try {
        url = new URL(consoleUrl);
      } catch {
        throw new UsageError(`--console-url "${consoleUrl.slice(0, 80)}" is not a URL`);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'wss:') throw new UsageError('--console-url must be https:// (the proxy serves TLS only)');
      flags.consoleUrl = consoleUrl;
    }
    const caFile = values['console-ca-file'] ?? env['DROVER_CONSOLE_CA_FILE'];
    if (caFile) flags.consoleCaFile = caFile;

    const [command, ...rest] = positionals;
    if (values.help || command === undefined || command === 'help') return { cmd: { command: 'help' }, flags };
    const extra = (n: number) => {
      if (rest.length > n) throw new UsageError(`${command}: unexpected argument "${String(rest[n]).slice(0, 80)}"`);
    };
    if (values.to !== undefined && command !== 'migrate') throw new UsageError('--to is a flag of migrate only');
    switch (command) {
      case 'status':
        extra(0);
        return { cmd: { command: 'status' }, flags };
      case 'migrate': {
        extra(1);
        const cmd: PluginCommand = { command: 'migrate', vm: checkName('VM', rest[0]) };
        if (values.to !== undefined) cmd.to = checkName('--to HOST', values.to);
        return { cmd, flags };
      }
      case 'maintenance': {
        extra(2);
        const host = checkName('HOST', rest[0]);
        const mode = rest[1];
        if (mode !== 'on' && mode !== 'off') throw new UsageError(`maintenance: expected "on" or "off" after the host${mode === undefined ? '' : `, got "${mode.slice(0, 20)}"`}`);
        return { cmd: { command: 'maintenance', host, on: mode === 'on' }, flags };
      }
      case 'console':
        extra(1);
        return { cmd: { command: 'console', vm: checkName('VM', rest[0]) }, flags };
      default:
        throw new UsageError(`unknown command "${command.slice(0, 40)}" (one of: status, migrate, maintenance, console)`);
    }
  } catch (error) {
    // parseArgs' own errors are one line too (unknown option, missing value).
    return { error: (error as Error).message.split('\n')[0] ?? 'invalid arguments' };
  }
}
