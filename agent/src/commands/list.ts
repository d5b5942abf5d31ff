import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator } from './context.js';

export const listCommand: CommandModule = {
  command: 'list',
  describe: 'Print the allocations: container, holder PID, netns path, networks, interfaces and IPs',
  handler: async () => {
    printJson({ allocations: (await loadAllocator()).list() });
  },
};
