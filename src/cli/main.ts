// The `vecrelay` command line. Commands (plan, run, source, sink, status, cutover, teardown)
// register here as they are built; commander gives --help, --version and unknown-command errors.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { cutoverCommand, statusCommand, teardownCommand } from './commands/ops.js';
import { planCommand } from './commands/plan.js';
import { runCommand } from './commands/run.js';
import { sinkCommand } from './commands/sink.js';
import { sourceCommand } from './commands/source.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
};

export function buildProgram(): Command {
  return new Command('vecrelay')
    .description(pkg.description)
    .version(pkg.version, '-V, --version', 'print the version')
    .showHelpAfterError()
    .addCommand(planCommand())
    .addCommand(runCommand())
    .addCommand(sourceCommand())
    .addCommand(sinkCommand())
    .addCommand(statusCommand())
    .addCommand(cutoverCommand())
    .addCommand(teardownCommand())
    .configureOutput({ outputError: (str, write) => write(str) });
}

await buildProgram().parseAsync(process.argv);
