import type { CommandModule } from 'yargs';
import { UserError } from '../../../common/src/errors.js';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator } from './context.js';

export const deallocAllCommand: CommandModule = {
  command: 'dealloc-all',
  describe:
    'Detach every container from every network and stop every holder (before the infra container is removed: ' +
    'rootless podman rm does not kill them); prints what it removed',
  handler: async () => {
    const report = await (await loadAllocator()).deallocAll();
    printJson(report);
    if (report.errors.length > 0) throw new UserError(`dealloc-all could not remove everything: ${report.errors.join('; ')}`);
  },
};
