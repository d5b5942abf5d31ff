import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator, str } from './context.js';

export const checkCommand: CommandModule = {
  command: 'check <CONTAINER_ID> <NETWORK_NAME>',
  describe: 'Run CNI CHECK on an attachment (spec 0.4.0 and later); prints {} when it passes',
  handler: async (argv) => {
    await (await loadAllocator()).check(str(argv['CONTAINER_ID'])!, str(argv['NETWORK_NAME'])!);
    printJson({});
  },
};
