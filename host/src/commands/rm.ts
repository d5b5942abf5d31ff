import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { PROTOCOL_VERSION } from '../../../common/src/version.js';
import { infraFor } from './context.js';

export const rmCommand: CommandModule = {
  command: 'rm',
  describe:
    'Detach everything (stopping every netns holder), then remove the infra container; ' +
    'prints {"removed":BOOL,...}. For an infra container of another protocol version, stop its users first',
  builder: (y) =>
    y.option('force', {
      type: 'boolean',
      describe: 'remove the container even when detaching everything failed (holders may be left behind)',
    }),
  handler: async (argv) => {
    const infra = infraFor(argv);
    const output = await infra.locked(async () => {
      const info = await infra.inspect();
      if (info === undefined) return { removed: false };
      // Another protocol's agent may not know dealloc-all: try it, but do
      // not let its failure keep the container (the user was told to stop
      // that container's workloads first).
      let compatible = true;
      if (info.running) {
        try {
          compatible = (await infra.protocolVersion(info)) === PROTOCOL_VERSION;
        } catch {
          compatible = false;
        }
      }
      const report = await infra.remove(info, { force: argv['force'] === true || !compatible });
      return { removed: true, ...report };
    });
    printJson(output);
  },
};
