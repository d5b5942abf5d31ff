import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator, str } from './context.js';

export const printCniResultCommand: CommandModule = {
  command: 'print-cni-result <CONTAINER_ID> <NETWORK_NAME>',
  describe: 'Print the CNI result of a container on a network',
  handler: async (argv) => {
    printJson((await loadAllocator()).cniResult(str(argv['CONTAINER_ID'])!, str(argv['NETWORK_NAME'])!));
  },
};
