import yargs, { type Argv, type CommandModule } from 'yargs';
import { reportFatal } from '../../common/src/cli.js';
import { UsageError } from '../../common/src/errors.js';
import { allocCommand } from './commands/alloc.js';
import { deallocCommand } from './commands/dealloc.js';
import { printCniResultCommand, printNetnsPathCommand } from './commands/forward.js';
import { rmCommand } from './commands/rm.js';
import { statusCommand } from './commands/status.js';
import { versionCommand } from './commands/version.js';

/*
 * The host shim: what a rootless user (or podman) runs on the host. It keeps
 * one infra container per user and drives the agent inside it with one
 * `podman exec` per operation. Every command prints one JSON document on
 * stdout; failures print `Error: ...` on stderr and exit non-zero (2 for
 * usage errors).
 */

export const COMMANDS: CommandModule[] = [
  allocCommand,
  deallocCommand,
  printNetnsPathCommand,
  printCniResultCommand,
  statusCommand,
  rmCommand,
  versionCommand,
];

const SCRIPT_NAME = 'rootless-cni';

export function buildCli(argv: string[], commands: CommandModule[]): Argv {
  const cli = yargs(argv)
    .scriptName(SCRIPT_NAME)
    .usage(`Usage: ${SCRIPT_NAME} <command> [arguments]`)
    .parserConfiguration({
      // Container IDs, pod names and MACs must reach the agent exactly as typed.
      'parse-numbers': false,
      'parse-positional-numbers': false,
    })
    .option('podman', { type: 'string', describe: 'podman binary (env PODMAN; default "podman")' })
    .option('image', {
      type: 'string',
      describe: 'infra container image (env ROOTLESS_CNI_INFRA_IMAGE; default localhost/rootless-cni-infra:PROTOCOL-ARCH)',
    })
    .option('config-dir', {
      type: 'string',
      describe: 'CNI network configurations, mounted read-only as /etc/cni/net.d (env ROOTLESS_CNI_CONFIG_DIR; default ~/.config/cni/net.d)',
    })
    .strict()
    .demandCommand(1, 'no command given (try "help")')
    .recommendCommands()
    .help('help')
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(120, process.stdout.columns || 120))
    .fail((message, err) => {
      if (err) reportFatal(err);
      throw new UsageError(cleanYargsMessage(message));
    })
    .epilogue(
      'Output is JSON on stdout. Errors are "Error: ..." on stderr, with exit code 1 (failure) or 2 (bad usage).',
    );
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

function cleanYargsMessage(message: string): string {
  const unknown = /^Unknown argument(?:s)?: (.*)$/.exec(message);
  if (unknown) return `unknown command or argument: ${unknown[1]} (see "${SCRIPT_NAME} help")`;
  return `${message} (see "${SCRIPT_NAME} help")`;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli(argv, COMMANDS).parseAsync();
  } catch (err) {
    reportFatal(err);
  }
}
