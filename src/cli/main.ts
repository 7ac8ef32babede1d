// The `vecrelay` command line. Commands (plan, run, source, sink, status, cutover, teardown)
// register here as they are built; commander gives --help, --version and unknown-command errors.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
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
    .addCommand(sourceCommand())
    .argument('[command]')
    .action((command?: string) => {
      if (command === undefined) return;
      // Reached only when no registered command matched.
      process.stderr.write(`vecrelay: unknown command '${command}'; see \`vecrelay --help\`\n`);
      process.exitCode = 2;
    });
}

await buildProgram().parseAsync(process.argv);
