import type { CommandModule } from 'yargs';
import { UsageError } from '../../../common/src/errors.js';
import { printJson } from '../../../common/src/output.js';
import { validateContainerId, validateNetworkName } from '../../../common/src/validate.js';
import { loadAllocator, str } from './context.js';

export const deallocCommand: CommandModule = {
  command: 'dealloc [CONTAINER_ID] [NETWORK_NAME]',
  describe:
    'Detach a container from a network (replaying its CNI and capability args); the last network ' +
    'removes the netns. Unknown container or network: a no-op. Prints {}. With no arguments, reads the JSON request on stdin',
  builder: (y) =>
    y
      .positional('CONTAINER_ID', { type: 'string', describe: 'container ID' })
      .positional('NETWORK_NAME', { type: 'string', describe: 'network name' })
      .option('report-idle', {
        type: 'boolean',
        describe: 'print {"idle":BOOL} afterwards: one exec instead of dealloc + is-idle',
      }),
  handler: async (argv) => {
    let id = str(argv['CONTAINER_ID']);
    let network = str(argv['NETWORK_NAME']);
    if (id === undefined) {
      const { readStdinJson } = await import('../protocol.js');
      const request = readStdinJson() as Record<string, unknown>;
      if (typeof request !== 'object' || request === null || Array.isArray(request)) {
        throw new UsageError('invalid request on stdin: expected a JSON object');
      }
      id = request['ID'] as string;
      network = request['Network'] as string;
    }
    if (network === undefined) throw new UsageError('usage: dealloc CONTAINER_ID NETWORK_NAME');
    const allocator = await loadAllocator();
    await allocator.dealloc(validateContainerId(id), validateNetworkName(network));
    printJson(argv['report-idle'] ? { idle: await allocator.isIdle() } : {});
  },
};
