import yargs, { type Argv, type CommandModule } from 'yargs';
import { reportFatal } from '../../common/src/cli.js';
import { UsageError } from '../../common/src/errors.js';
import { allocCommand } from './commands/alloc.js';
import { checkCommand } from './commands/check.js';
import { deallocCommand } from './commands/dealloc.js';
import { deallocAllCommand } from './commands/dealloc-all.js';
import { gcCommand } from './commands/gc.js';
import { isIdleCommand } from './commands/is-idle.js';
import { listCommand } from './commands/list.js';
import { printCniResultCommand } from './commands/print-cni-result.js';
import { printNetnsPathCommand } from './commands/print-netns-path.js';
import { versionCommand } from './commands/version.js';

export const COMMANDS: CommandModule[] = [
  allocCommand,
  deallocCommand,
  isIdleCommand,
  printCniResultCommand,
  printNetnsPathCommand,
  checkCommand,
  gcCommand,
  listCommand,
  deallocAllCommand,
  versionCommand,
];

/*
 * The agent's CLI. Every command prints one JSON document on stdout; failures
 * print `Error: ...` on stderr and exit non-zero (2 for usage errors).
 * Command modules are thin and load their implementation lazily, so that a
 * `version` or `is-idle` does not pay for the CNI runtime.
 */

const SCRIPT_NAME = 'rootless-cni-infra';

export function buildCli(argv: string[], commands: CommandModule[]): Argv {
  const cli = yargs(argv)
    .scriptName(SCRIPT_NAME)
    .usage(`Usage: ${SCRIPT_NAME} <command> [arguments]`)
    .parserConfiguration({
      // Container IDs, pod names and MACs must reach us exactly as typed.
      'parse-numbers': false,
      'parse-positional-numbers': false,
    })
    .strict()
    .demandCommand(1, 'no command given (try "help")')
    .recommendCommands()
    .help('help')
    .alias('help', 'h')
    .version(false)
    .wrap(100)
    .fail((message, err) => {
      if (err) reportFatal(err);
      throw new UsageError(cleanYargsMessage(message));
    })
    .epilogue(
      'Output is JSON on stdout. Errors are "Error: ..." on stderr, with exit code 1 (failure) or 2 (bad usage).',
    );
  skipHelpCaching(cli);
  for (const command of commands) cli.command(command);
  cli.command({
    command: 'help [command]',
    describe: 'Show help (for one command when named)',
    handler: async (args) => {
      const named = args['command'];
      if (typeof named === 'string') {
        await buildCli([named, '--help'], commands).parseAsync();
      } else {
        cli.showHelp('log');
      }
    },
  });
  return cli;
}

/**
 * yargs renders the whole help text after every command it runs (about 9 ms,
 * 15% of a `version`), only so that a handler calling showHelp() later still
 * shows that command's help. Ours never do (`help` builds its own parser), so
 * the agent turns that caching off; help is still rendered on demand.
 */
function skipHelpCaching(cli: Argv): void {
  const internal = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => Record<string, unknown> } })
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (internal && typeof internal['cacheHelpMessage'] === 'function') internal['cacheHelpMessage'] = () => undefined;
}

function cleanYargsMessage(message: string): string {
  const unknown = /^Unknown argument(?:s)?: (.*)$/.exec(message);
  if (unknown) return `unknown command or argument: ${unknown[1]} (see "${SCRIPT_NAME} help")`;
  return `${message} (see "${SCRIPT_NAME} help")`;
}

export async function main(argv: string[]): Promise<void> {
  const commands = COMMANDS;
  try {
    await buildCli(argv, commands).parseAsync();
  } catch (err) {
    reportFatal(err);
  }
}
