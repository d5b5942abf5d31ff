import yargs, { type Argv, type CommandModule } from 'yargs';
import { errorMessage, UsageError, UserError } from './errors.js';
import { printError } from './output.js';

/*
 * The command-line frame shared by the agent and the host shim: every
 * command prints one JSON document on stdout; a failure becomes one
 * `Error: ...` line on stderr and a non-zero exit code (2 for usage errors).
 * Set ROOTLESS_CNI_INFRA_DEBUG=1 to also get the stack.
 */

export function reportFatal(err: unknown): never {
  printError(errorMessage(err));
  if (process.env['ROOTLESS_CNI_INFRA_DEBUG'] === '1' && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exit(err instanceof UserError ? err.exitCode : 1);
}

/**
 * An argument or option as yargs gives it (a string: numbers are not parsed,
 * see buildCli), or undefined. A single-value option given twice is an
 * error rather than silently joined.
 */
export function str(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UsageError(`an option was given more than once: ${value.map(String).join(', ')}`);
  return String(value);
}

export interface CliSpec {
  scriptName: string;
  commands: CommandModule[];
  /** Global options, e.g. the host shim's --podman. */
  globalOptions?: (cli: Argv) => Argv;
}

/**
 * yargs renders the whole help text after every command it runs (about 9 ms,
 * 15% of the agent's `version`), only so that a handler calling showHelp()
 * later still shows that command's help. Ours never do (`help` builds its own
 * parser), so that caching is turned off; help is still rendered on demand.
 */
function skipHelpCaching(cli: Argv): void {
  const internal = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => Record<string, unknown> } })
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (internal && typeof internal['cacheHelpMessage'] === 'function') internal['cacheHelpMessage'] = () => undefined;
}

function cleanYargsMessage(scriptName: string, message: string): string {
  const unknown = /^Unknown argument(?:s)?: (.*)$/.exec(message);
  if (unknown) return `unknown command or argument: ${unknown[1]} (see "${scriptName} help")`;
  return `${message} (see "${scriptName} help")`;
}

export function buildCli(argv: string[], spec: CliSpec): Argv {
  let cli = yargs(argv)
    .scriptName(spec.scriptName)
    .usage(`Usage: ${spec.scriptName} <command> [arguments]`)
    .parserConfiguration({
      // Container IDs, pod names and MACs must arrive exactly as typed.
      'parse-numbers': false,
      'parse-positional-numbers': false,
    });
  if (spec.globalOptions) cli = spec.globalOptions(cli);
  cli = cli
    .strict()
    .demandCommand(1, 'no command given (try "help")')
    .recommendCommands()
    .help('help')
    .alias('help', 'h')
    .version(false)
    .wrap(null)
    .fail((message, err) => {
      if (err) reportFatal(err);
      throw new UsageError(cleanYargsMessage(spec.scriptName, message));
    })
    .epilogue('Output is JSON on stdout. Errors are "Error: ..." on stderr, with exit code 1 (failure) or 2 (bad usage).');
  skipHelpCaching(cli);
  for (const command of spec.commands) cli.command(command);
  cli.command({
    command: 'help [command]',
    describe: 'Show help (for one command when named)',
    handler: async (args) => {
      const named = args['command'];
      if (typeof named === 'string') {
        await buildCli([named, '--help'], spec).parseAsync();
      } else {
        cli.showHelp('log');
      }
    },
  });
  return cli;
}

export async function runCli(argv: string[], spec: CliSpec): Promise<void> {
  try {
    await buildCli(argv, spec).parseAsync();
  } catch (err) {
    reportFatal(err);
  }
}
