import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { AGENT_VERSION, PROTOCOL_VERSION } from '../../../common/src/version.js';

export const versionCommand: CommandModule = {
  command: 'version',
  describe: 'Print the protocol version this shim speaks (and its release)',
  handler: () => {
    printJson({ version: PROTOCOL_VERSION, shim: AGENT_VERSION });
  },
};
