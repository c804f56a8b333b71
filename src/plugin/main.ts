/**
 * `kubectl drover`: parses the command line, runs the command with the
 * user's kubeconfig, and turns every failure into one line on stderr and
 * exit code 1.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { PluginKube } from '../kube/plugin-api.js';
import { parsePluginArgs, USAGE } from './args.js';
import { maintenance, migrate, PluginError, status } from './commands.js';
import { runConsole, type ConsoleTerminal } from './console.js';
import { errorLine } from './output.js';

/** Runs the plugin; resolves with the exit code. */
export async function pluginMain(argv: string[], env: Record<string, string | undefined>, term: ConsoleTerminal): Promise<number> {
  const parsed = parsePluginArgs(argv, env);
  if ('error' in parsed) {
    term.stderr.write(`${errorLine(new Error(parsed.error))}\n`);
    return 1;
  }
  const { cmd, flags } = parsed;
  if (cmd.command === 'help') {
    term.stdout.write(USAGE);
    return 0;
  }
  try {
    const kube = new PluginKube({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) });
    const namespace = flags.namespace ?? kube.contextNamespace();
    switch (cmd.command) {
      case 'status':
        term.stdout.write(`${await status(kube, namespace)}\n`);
        return 0;
      case 'migrate':
        term.stdout.write(`${await migrate(kube, namespace, cmd.vm, cmd.to)}\n`);
        return 0;
      case 'maintenance':
        term.stdout.write(`${await maintenance(kube, namespace, cmd.host, cmd.on)}\n`);
        return 0;
      case 'console': {
        if (!flags.consoleUrl) throw new PluginError('no console proxy address: pass --console-url https://HOST:9444 or set DROVER_CONSOLE_URL');
        const ca = flags.consoleCaFile ? await readFile(flags.consoleCaFile) : undefined;
        return await runConsole(
          {
            baseUrl: flags.consoleUrl,
            namespace,
            vm: cmd.vm,
            credentials: await kube.credentials(),
            ...(ca !== undefined ? { ca } : {}),
            insecureSkipTlsVerify: flags.insecureSkipTlsVerify,
          },
          term,
        );
      }
    }
  } catch (error) {
    term.stderr.write(`${errorLine(error)}\n`);
    return 1;
  }
}
