import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator, str } from './context.js';

export const printNetnsPathCommand: CommandModule = {
  command: 'print-netns-path <CONTAINER_ID>',
  describe: 'Print {"path":"/proc/PID/ns/net"}, the network namespace of a container',
  handler: async (argv) => {
    printJson({ path: (await loadAllocator()).netnsPath(str(argv['CONTAINER_ID'])!) });
  },
};
