import type { CommandModule } from 'yargs';
import { UserError } from '../../../common/src/errors.js';
import { printJson } from '../../../common/src/output.js';
import { validateContainerId, validateNetworkName } from '../../../common/src/validate.js';
import { infraFor, isObject, str } from './context.js';

export const deallocCommand: CommandModule = {
  command: 'dealloc <CONTAINER_ID> <NETWORK_NAME>',
  describe:
    'Detach a container from a network; when nothing is left allocated, remove the infra container. ' +
    'Idempotent. Prints {} (or {"infraRemoved":true})',
  builder: (y) =>
    y
      .positional('CONTAINER_ID', { type: 'string', describe: 'container ID' })
      .positional('NETWORK_NAME', { type: 'string', describe: 'network name' }),
  handler: async (argv) => {
    const id = validateContainerId(str(argv['CONTAINER_ID']));
    const network = validateNetworkName(str(argv['NETWORK_NAME']));
    const infra = infraFor(argv);
    const output = await infra.locked(async () => {
      const answer = await infra.agentIfRunning(['dealloc', id, network, '--report-idle']);
      // No running infra container: no namespace, nothing to detach.
      if (answer === undefined) return {};
      if (!isObject(answer) || typeof answer['idle'] !== 'boolean') {
        throw new UserError(`the agent's dealloc --report-idle printed an unexpected document: ${JSON.stringify(answer).slice(0, 200)}`);
      }
      if (!answer['idle']) return {};
      const info = await infra.inspect();
      if (info?.running) await infra.remove(info, { force: false });
      return { infraRemoved: true };
    });
    printJson(output);
  },
};
