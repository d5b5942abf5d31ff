import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { validateContainerId, validateNetworkName } from '../../../common/src/validate.js';
import { infraFor, str } from './context.js';

/*
 * Queries answered by the agent. They never create the infra container (a
 * missing one is an error) and take no lock: they change nothing.
 */

export const printNetnsPathCommand: CommandModule = {
  command: 'print-netns-path <CONTAINER_ID>',
  describe: 'Print {"path":"/proc/PID/ns/net"}, the network namespace of a container',
  builder: (y) => y.positional('CONTAINER_ID', { type: 'string', describe: 'container ID' }),
  handler: async (argv) => {
    const id = validateContainerId(str(argv['CONTAINER_ID']));
    const infra = infraFor(argv);
    await infra.requireRunning();
    printJson(await infra.agent(['print-netns-path', id]));
  },
};

export const printCniResultCommand: CommandModule = {
  command: 'print-cni-result <CONTAINER_ID> <NETWORK_NAME>',
  describe: 'Print the CNI result of a container on a network',
  builder: (y) =>
    y
      .positional('CONTAINER_ID', { type: 'string', describe: 'container ID' })
      .positional('NETWORK_NAME', { type: 'string', describe: 'network name' }),
  handler: async (argv) => {
    const id = validateContainerId(str(argv['CONTAINER_ID']));
    const network = validateNetworkName(str(argv['NETWORK_NAME']));
    const infra = infraFor(argv);
    await infra.requireRunning();
    printJson(await infra.agent(['print-cni-result', id, network]));
  },
};
