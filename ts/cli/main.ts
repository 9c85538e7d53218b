/**
 * The `ouroboros` command line. Every command prints a human-readable report,
 * or one JSON object with --json. Errors print one line naming what was wrong
 * and exit non-zero: 2 for bad usage, 1 for a failure while running.
 *
 * Only the command being run is loaded (see commands.ts); the others appear in
 * the help as their one-line summaries.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands.js';
import { UsageError } from './usage-error.js';

/** The installed package's version; this file runs from `<root>/dist/ts/cli/`. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * The command `argv` runs (`help <name>` asks for that one's help), if it
 * names one: the first word that is not an option, since the program's own
 * options (--help, --version) take no value.
 */
function requestedCommand(argv: string[]): string | undefined {
  const [first, second] = argv.filter((arg) => !arg.startsWith('-'));
  return first === 'help' ? second : first;
}

async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('ouroboros')
    .description('a self-improving native wave-physics engine')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const requested = requestedCommand(argv);
  for (const [name, entry] of Object.entries(COMMANDS)) {
    program.addCommand(name === requested ? (await entry.load()).summary(entry.summary) : new Command(name).summary(entry.summary));
  }
  const overrideExits = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideExits);
  };
  program.commands.forEach(overrideExits);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`ouroboros: ${message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
