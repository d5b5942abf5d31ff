import type { CommandModule } from 'yargs';
import { printJson } from '../../../common/src/output.js';
import { PROTOCOL_VERSION } from '../../../common/src/version.js';
import { INFRA_NAME, PROTOCOL_LABEL } from '../infra.js';
import { infraFor, isObject } from './context.js';

export const statusCommand: CommandModule = {
  command: 'status',
  describe:
    'Print the infra container (present, running, image, protocol version) and its allocations; creates nothing',
  handler: async (argv) => {
    const infra = infraFor(argv);
    const info = await infra.inspect();
    const base = { name: INFRA_NAME, shimProtocolVersion: PROTOCOL_VERSION, image: infra.config.image };
    if (info === undefined) {
      printJson({ ...base, present: false, running: false, allocations: [] });
      return;
    }
    const protocolVersion = info.running ? await infra.protocolVersion(info) : (info.labels[PROTOCOL_LABEL] ?? null);
    const compatible = protocolVersion === PROTOCOL_VERSION;
    let allocations: unknown = null;
    if (info.running && compatible) {
      const listed = await infra.agent(['list']);
      allocations = isObject(listed) ? (listed['allocations'] ?? null) : null;
    }
    printJson({
      ...base,
      present: true,
      running: info.running,
      state: info.state,
      id: info.id,
      image: info.image,
      protocolVersion,
      compatible,
      allocations,
    });
  },
};
