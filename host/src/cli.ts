import yargs from 'yargs';
import { reportFatal } from '../../common/src/cli.js';
import { UsageError } from '../../common/src/errors.js';
import { printJson } from '../../common/src/output.js';
import { AGENT_VERSION, PROTOCOL_VERSION } from '../../common/src/version.js';

export async function main(argv: string[]): Promise<void> {
  try {
    await yargs(argv)
      .scriptName('rootless-cni')
      .strict()
      .demandCommand(1, 'no command given (try "help")')
      .version(false)
      .help('help')
      .fail((message, err) => {
        if (err) reportFatal(err);
        throw new UsageError(message);
      })
      .command('version', 'Print the protocol version this shim speaks', {}, () => {
        printJson({ version: PROTOCOL_VERSION, shim: AGENT_VERSION });
      })
      .parseAsync();
  } catch (err) {
    reportFatal(err);
  }
}
