import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { validateContainerId, validateNetworkName } from '../../../common/src/validate.js';
import type { Infra } from '../infra.js';
import { infraFor, str } from './context.js';

/*
 * Queries answered by the agent. They never create the infra container (a
 * missing one is an error) and take no lock: they change nothing.
 */

/** One podman call when the infra container runs; a clear error naming its state when not. */
async function forward(infra: Infra, args: string[]): Promise<unknown> {
  const answer = await infra.agentIfRunning(args);
  if (answer !== undefined) return answer;
  await infra.requireRunning(); // throws, saying whether it is missing or stopped
  return infra.agent(args);
}

export const printNetnsPathCommand: CommandModule = {
  command: 'print-netns-path <CONTAINER_ID>',
  describe: 'Print {"path":"/proc/PID/ns/net"}, the network namespace of a container',
  builder: (y) => y.positional('CONTAINER_ID', { type: 'string', describe: 'container ID' }),
  handler: async (argv) => {
    const id = validateContainerId(str(argv['CONTAINER_ID']));
    const infra = infraFor(argv);
    printJson(await forward(infra, ['print-netns-path', id]));
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
    printJson(await forward(infra, ['print-cni-result', id, network]));
  },
};
