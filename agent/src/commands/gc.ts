import type { CommandModule } from 'yargs';
import { UserError } from '../../../common/src/errors.js';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator } from './context.js';

export const gcCommand: CommandModule = {
  command: 'gc',
  describe:
    'Clean up what crashes left (dead holders, interrupted attachments, orphaned CNI cache entries); prints what it removed',
  handler: async () => {
    const report = await (await loadAllocator()).gc();
    printJson(report);
    if (report.errors.length > 0) throw new UserError(`gc could not clean everything: ${report.errors.join('; ')}`);
  },
};
