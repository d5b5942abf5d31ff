import type { CommandModule } from 'yargs';
import { UsageError } from '../../../common/src/errors.js';
import { printJson } from '../../../common/src/output.js';
import { loadAllocator, str } from './context.js';

export const allocCommand: CommandModule = {
  command: 'alloc [CONTAINER_ID] [NETWORK_NAME] [POD_NAME] [IP] [MAC] [CAP_ARGS]',
  describe:
    'Attach a container to a network, creating its netns if needed; prints {"ns":PATH}. ' +
    'With no arguments, reads the podman 3.0 JSON request on stdin and prints the CNI result',
  builder: (y) =>
    y
      .positional('CONTAINER_ID', { type: 'string', describe: 'container ID (CNI rules)' })
      .positional('NETWORK_NAME', { type: 'string', describe: 'network name' })
      .positional('POD_NAME', { type: 'string', describe: 'K8S_POD_NAME passed in CNI_ARGS' })
      .positional('IP', { type: 'string', describe: 'static IP ("" = none), passed as CNI_ARGS IP' })
      .positional('MAC', { type: 'string', describe: 'static MAC ("" = none), passed as CNI_ARGS MAC' })
      .positional('CAP_ARGS', { type: 'string', describe: 'JSON object of capability args' })
      .option('pod-name', { type: 'string', describe: 'same as POD_NAME' })
      .option('ip', { type: 'string', describe: 'same as IP' })
      .option('mac', { type: 'string', describe: 'same as MAC' })
      .option('cap-args', { type: 'string', describe: 'same as CAP_ARGS' })
      .option('ifname', { type: 'string', describe: 'interface name in the container (default: lowest free ethN)' })
      .option('print-result', {
        type: 'boolean',
        describe: 'print {"ns":PATH,"result":CNI_RESULT}: one exec instead of alloc + print-cni-result',
      }),
  handler: async (argv) => {
    const { allocRequestFromArgs, allocRequestFromJson, readStdinJson } = await import('../protocol.js');
    const id = str(argv['CONTAINER_ID']);
    if (id === undefined) {
      const request = allocRequestFromJson(readStdinJson());
      const response = await (await loadAllocator()).alloc(request);
      printJson(response.result);
      return;
    }
    const network = str(argv['NETWORK_NAME']);
    const podName = str(argv['POD_NAME']) ?? str(argv['pod-name']);
    if (network === undefined || podName === undefined) {
      throw new UsageError('usage: alloc CONTAINER_ID NETWORK_NAME POD_NAME [IP [MAC [CAP_ARGS]]]');
    }
    const request = allocRequestFromArgs({
      containerId: id,
      network,
      podName,
      ip: str(argv['IP']) || str(argv['ip']),
      mac: str(argv['MAC']) || str(argv['mac']),
      capArgs: str(argv['CAP_ARGS']) || str(argv['cap-args']),
      ifName: str(argv['ifname']),
    });
    const response = await (await loadAllocator()).alloc(request);
    printJson(argv['print-result'] ? response : { ns: response.ns });
  },
};
