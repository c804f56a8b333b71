#!/usr/bin/env node
/**
 * The `drover` command: `operator` runs the operator, `dev` manages the local
 * development environment (and fences test hosts), `agent` runs the host
 * agent, `token` makes bootstrap tokens for host enrollment, `check` reports
 * VMs running on more than one host, `hosted-engine` deploys and looks after
 * the self-hosted Manager VM.
 */
// Each command is imported only when run: the agent must not load
// @kubernetes/client-node (about 80 MiB of RSS) that only the operator uses.

const USAGE = `usage: drover <command> [flags]

commands:
  operator   run the operator (leader-elected; drover operator --help lists its flags)
  agent      run the host agent (mTLS; flags: --listen, --libvirt-uri, ..., and either --cert, --key, --ca
             or enrollment: --enroll-url, --bootstrap-token[-file], --host-name, --namespace, --ca-cert-hash;
             --hosted-engine DIR makes it a self-hosted engine node)
  token create --namespace NS [--host NAME] [--ttl 24h]
             make a bootstrap token for host enrollment; prints <id>.<secret>
  dev up     start a local control plane, the operator and the examples
  dev down   stop everything 'dev up' started
  dev fence-testbed
             fence agent for the test bed (fence-agents protocol: name=value options on stdin)
  hosted-engine deploy|status|set-maintenance
             the self-hosted Manager VM from a node, without the Manager (see drover hosted-engine help)
  check --uri URI [--uri URI...] | --testbed DIR [--json]
             report any VM running on more than one host (exit 1 if so)
  version    print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'operator':
      return (await import('./operator-command.js')).operatorCommand(rest);
    case 'agent':
      return (await import('./agent-command.js')).agentCommand(rest);
    case 'token':
      return (await import('./token-command.js')).tokenCommand(rest);
    case 'hosted-engine':
      return (await import('./hosted-engine-command.js')).hostedEngineCommand(rest);
    case 'check':
      return (await import('./check-command.js')).checkCommand(rest);
    case 'dev':
      return (await import('./dev-command.js')).devCommand(rest);
    case 'version':
      console.log('drover 0.1.0');
      return 0;
    default:
      process.stderr.write(USAGE);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
