#!/usr/bin/env node
/**
 * `kubectl-drover`: the kubectl plugin (kubectl finds it on PATH and runs it
 * for `kubectl drover ...`). See src/plugin/.
 */
import { pluginMain } from '../plugin/main.js';

pluginMain(process.argv.slice(2), process.env, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
    // Streams (stdin, sockets) must not keep a finished command alive.
    setImmediate(() => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    process.exit(1);
  },
);
