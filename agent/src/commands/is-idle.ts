import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator } from './context.js';

export const isIdleCommand: CommandModule = {
  command: 'is-idle',
  describe: 'Print {"idle":true} when no live allocation exists (the infra container may then be removed)',
  handler: async () => {
    printJson({ idle: await (await loadAllocator()).isIdle() });
  },
};
