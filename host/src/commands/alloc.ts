import type { CommandModule } from 'yargs';
import { errorMessage, UsageError, UserError } from '../../../common/src/errors.js';
import { printJson } from '../../../common/src/output.js';
import { PROTOCOL_VERSION } from '../../../common/src/version.js';
import {
  validateCniArgValue,
  validateContainerId,
  validateInterfaceName,
  validateIpAddress,
  validateMacAddress,
  validateNetworkName,
} from '../../../common/src/validate.js';
import { infraFor, isObject, list, str } from './context.js';

/** A DNS alias for the dnsname plugin: podman's name rules, at most one DNS name long. */
export function validateAlias(value: string): string {
  if (value.length === 0 || value.length > 253 || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) {
    throw new UsageError(
      `invalid alias ${JSON.stringify(value.slice(0, 80))}: must be 1 to 253 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

export interface AllocArgs {
  containerId: string;
  network: string;
  podName?: string | undefined;
  ip?: string | undefined;
  mac?: string | undefined;
  ifName?: string | undefined;
  aliases: string[];
}

/**
 * The agent's arguments for one alloc, validated. Every optional value goes
 * as --name=VALUE, so that no value (a pod name may start with '-') can be
 * taken for a flag by the agent's parser.
 */
export function agentAllocArgs(request: AllocArgs): string[] {
  const id = validateContainerId(request.containerId);
  const network = validateNetworkName(request.network);
  const podName = validateCniArgValue('pod name', request.podName === undefined || request.podName === '' ? id : request.podName);
  const args = ['alloc', id, network, `--pod-name=${podName}`];
  if (request.ip !== undefined && request.ip !== '') args.push(`--ip=${validateIpAddress(request.ip)}`);
  if (request.mac !== undefined && request.mac !== '') args.push(`--mac=${validateMacAddress(request.mac)}`);
  if (request.ifName !== undefined && request.ifName !== '') args.push(`--ifname=${validateInterfaceName(request.ifName)}`);
  const aliases = request.aliases.map(validateAlias);
  if (aliases.length > 0) args.push(`--cap-args=${JSON.stringify({ aliases: { [network]: aliases } })}`);
  args.push('--print-result');
  return args;
}

export const allocCommand: CommandModule = {
  command: 'alloc <CONTAINER_ID> <NETWORK_NAME>',
  describe:
    'Attach a container to a network in the infra container (created when missing); prints {"ns":"/proc/PID/ns/net","result":CNI_RESULT}',
  builder: (y) =>
    y
      .positional('CONTAINER_ID', { type: 'string', describe: 'container ID (CNI rules)' })
      .positional('NETWORK_NAME', { type: 'string', describe: 'CNI network name (podman = the built-in default)' })
      .option('pod-name', { type: 'string', describe: 'K8S_POD_NAME, the name dnsname registers (default: the container ID)' })
      .option('ip', { type: 'string', describe: 'static IP address' })
      .option('mac', { type: 'string', describe: 'static MAC address' })
      .option('ifname', { type: 'string', describe: 'interface name in the container (default: lowest free ethN)' })
      .option('alias', { type: 'string', describe: 'DNS alias on this network (dnsname); repeatable' }),
  handler: async (argv) => {
    const args = agentAllocArgs({
      containerId: str(argv['CONTAINER_ID'])!,
      network: str(argv['NETWORK_NAME'])!,
      podName: str(argv['pod-name']),
      ip: str(argv['ip']),
      mac: str(argv['mac']),
      ifName: str(argv['ifname']),
      aliases: list(argv['alias']),
    });
    const infra = infraFor(argv);
    // The lock is held across the whole alloc: a concurrent dealloc cannot
    // find the container idle and remove it under us.
    const response = await infra.locked(async () => {
      // The common case, an infra container already running: one podman call.
      const answer = await infra.agentIfRunning(args);
      if (answer !== undefined) return answer;
      const { info, created } = await infra.ensure();
      try {
        return await infra.agent([...args, `--expect-protocol=${PROTOCOL_VERSION}`]);
      } catch (err) {
        if (created) {
          // We just made it and hold the lock: nothing else lives in it.
          try {
            await infra.remove(info, { force: true });
          } catch (cleanup) {
            throw new UserError(`${errorMessage(err)} (and removing the new infra container failed: ${errorMessage(cleanup)})`);
          }
        }
        throw err;
      }
    });
    if (!isObject(response) || typeof response['ns'] !== 'string') {
      throw new UserError(`the agent's alloc printed an unexpected document: ${JSON.stringify(response).slice(0, 200)}`);
    }
    printJson(response);
  },
};
