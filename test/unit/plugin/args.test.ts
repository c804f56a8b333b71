/** `kubectl drover` command lines: what each parses to, and the one-line usage errors. */
import { parsePluginArgs, type ParsedArgs } from '../../../src/plugin/args.js';

const ok = (argv: string[], env = {}): ParsedArgs => {
  const r = parsePluginArgs(argv, env);
  if ('error' in r) throw new Error(r.error);
  return r;
};
const err = (argv: string[]): string => {
  const r = parsePluginArgs(argv);
  if (!('error' in r)) throw new Error(`parsed: ${JSON.stringify(r)}`);
  return r.error;
};

describe('parsePluginArgs', () => {
  it('parses each command', () => {
    expect(ok(['status']).cmd).toEqual({ command: 'status' });
    expect(ok(['migrate', 'web']).cmd).toEqual({ command: 'migrate', vm: 'web' });
    expect(ok(['migrate', 'web', '--to', 'host-2']).cmd).toEqual({ command: 'migrate', vm: 'web', to: 'host-2' });
    expect(ok(['maintenance', 'host-1', 'on']).cmd).toEqual({ command: 'maintenance', host: 'host-1', on: true });
    expect(ok(['maintenance', 'host-1', 'off']).cmd).toEqual({ command: 'maintenance', host: 'host-1', on: false });
    expect(ok(['console', 'web']).cmd).toEqual({ command: 'console', vm: 'web' });
    expect(ok([]).cmd).toEqual({ command: 'help' });
    expect(ok(['status', '--help']).cmd).toEqual({ command: 'help' });
  });

  it('takes global flags before or after the command', () => {
    const a = ok(['-n', 'prod', 'status']);
    const b = ok(['status', '--namespace=prod', '--kubeconfig', '/k', '--context', 'c']);
    expect(a.flags.namespace).toBe('prod');
    expect(b.flags).toEqual({ namespace: 'prod', kubeconfig: '/k', context: 'c', insecureSkipTlsVerify: false });
    expect(ok(['status']).flags.namespace).toBeUndefined();
  });

  it('reads the console address and CA from flags, then the environment', () => {
    const env = { DROVER_CONSOLE_URL: 'https://env:9444', DROVER_CONSOLE_CA_FILE: '/env.crt' };
    expect(ok(['console', 'web'], env).flags).toMatchObject({ consoleUrl: 'https://env:9444', consoleCaFile: '/env.crt' });
    expect(ok(['console', 'web', '--console-url', 'https://flag:1', '--console-ca-file', '/f.crt', '--insecure-skip-tls-verify'], env).flags).toMatchObject({
      consoleUrl: 'https://flag:1',
      consoleCaFile: '/f.crt',
      insecureSkipTlsVerify: true,
    });
  });

  it('refuses bad input with one line', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['migrate'], /VM is missing/],
      [['migrate', 'Web'], /"Web" is not a valid name/],
      [['migrate', 'web', 'extra'], /unexpected argument "extra"/],
      [['migrate', 'web', '--to'], /--to/],
      [['migrate', 'web', '--to', 'h_2'], /"h_2" is not a valid name/],
      [['status', '--to', 'h'], /--to is a flag of migrate only/],
      [['maintenance', 'host-1'], /expected "on" or "off"/],
      [['maintenance', 'host-1', 'maybe'], /got "maybe"/],
      [['console'], /VM is missing/],
      [['status', '--bogus'], /bogus/],
      [['status', '-n', 'Bad_NS'], /namespace "Bad_NS"/],
      [['console', 'web', '--console-url', 'http://plain:9444'], /must be https/],
      [['console', 'web', '--console-url', 'not a url'], /is not a URL/],
    ];
    for (const [argv, pattern] of cases) {
      const e = err(argv);
      expect(e).toMatch(pattern);
      expect(e).not.toContain('\n');
    }
  });
});
