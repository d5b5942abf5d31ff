import { defaultNetworkDocument } from '../agent/src/cni/default-network.js';
import { agentEnv, bridgeOnly, floorMarker, inInfra, PLUGIN_DIR, startInfra, type TestInfra } from './infra.js';
import { mad, median, ratioRow, type Row } from './lib.js';
import { agentPath } from './startup.js';

/*
 * The agent's alloc+dealloc cycle, as root inside a stand-in infra, against
 * its floor: the same plugins executed directly with prepared stdin, in a
 * netns held by a process the driver starts, timing only the plugin
 * executions (ADD chain, then DEL chain in reverse). The agent's cycle also
 * starts (and stops) a holder and runs two agent processes; the profile rows
 * say how much of the difference those explain.
 */

interface FloorCycle {
  total: number;
  add: number[];
  del: number[];
}
interface AgentCycle {
  alloc: number;
  dealloc: number;
  total: number;
}
export interface CyclesAnswer {
  floor: FloorCycle[];
  agent: AgentCycle[];
}
interface ProbesAnswer {
  version: number[];
  list: number[];
  holder: number[];
  bare: number[];
  setpriv: number[];
}

type Conflist = ReturnType<typeof bridgeOnly>;

export function runCycles(infra: TestInfra, network: Conflist, cycles: number, warmup: number, idPrefix: string): Promise<CyclesAnswer> {
  return inInfra<CyclesAnswer>(infra, {
    mode: 'cycles',
    env: agentEnv(infra),
    agent: agentPath,
    pluginDir: PLUGIN_DIR,
    network,
    cycles,
    warmup,
    idPrefix,
    marker: floorMarker(infra),
  });
}

/** Checks that nothing is left allocated in the infra: no holder, no record, no IPAM reservation. */
export function assertClean(infra: TestInfra, networks: string[]): void {
  const holders = infra.holders();
  if (holders.length > 0) throw new Error(`holders left in the infra: ${holders.join(' ')}`);
  const list = JSON.parse(infra.execOk(['env', `NETCONFPATH=${infra.confDir}`, agentPath, 'list'])) as { allocations: unknown[] };
  if (list.allocations.length > 0) throw new Error(`allocations left: ${JSON.stringify(list.allocations).slice(0, 300)}`);
  for (const n of networks) {
    const left = infra.ipamReservations(n);
    if (left.length > 0) throw new Error(`IPAM reservations left on ${n}: ${left.join(' ')}`);
  }
}

export async function agentSection(options: { cycles: number; warmup: number }): Promise<{ rows: Row[]; raw: unknown }> {
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const { infra, stop } = await startInfra();
  try {
    const bridge = bridgeOnly('benchbr', 'cni-benchbr0', '10.91.0.0/24', '10.91.0.1');
    infra.writeConf('10-benchbr.conflist', bridge);
    const chains: Array<[string, Conflist, number]> = [
      ['bridge + host-local', bridge, 4],
      ['podman (bridge, portmap, firewall, tuning)', defaultNetworkDocument() as Conflist, 1.5],
    ];
    const overheads: Array<[string, number]> = [];
    for (const [label, network, target] of chains) {
      const answer = await runCycles(infra, network, options.cycles, options.warmup, `bench-${network.name}-`);
      raw[network.name] = answer;
      const agentTotals = answer.agent.map((c) => c.total);
      const floorTotals = answer.floor.map((c) => c.total);
      const floor = median(floorTotals);
      overheads.push([network.name, median(agentTotals) - floor]);
      rows.push(
        ratioRow(
          {
            section: 'agent',
            name: `alloc+dealloc cycle, ${label}`,
            value: median(agentTotals),
            mad: mad(agentTotals),
            samples: agentTotals.length,
            unit: 'ms',
            baselineName: 'floor: same plugins run directly (ADD+DEL)',
            baseline: floor,
          },
          target,
        ),
      );
      const nPlugins = network.plugins.length;
      rows.push({
        section: 'agent',
        name: `profile (${network.name}): alloc`,
        value: median(answer.agent.map((c) => c.alloc)),
        unit: 'ms',
        baselineName: `floor ADD chain (${nPlugins} plugin${nPlugins > 1 ? 's' : ''})`,
        baseline: median(answer.floor.map((c) => c.add.reduce((a, b) => a + b, 0))),
      });
      rows.push({
        section: 'agent',
        name: `profile (${network.name}): dealloc`,
        value: median(answer.agent.map((c) => c.dealloc)),
        unit: 'ms',
        baselineName: 'floor DEL chain',
        baseline: median(answer.floor.map((c) => c.del.reduce((a, b) => a + b, 0))),
      });
      const perPlugin = network.plugins.map(
        (p, i) => `${p.type} ${median(answer.floor.map((c) => c.add[i]!)).toFixed(1)}/${median(answer.floor.map((c) => c.del[i]!)).toFixed(1)}`,
      );
      rows[rows.length - 3]!.note = `floor per plugin, ADD/DEL ms: ${perPlugin.join(', ')}`;
    }

    // The pieces of an agent cycle that the floor does not have.
    const probes = await inInfra<ProbesAnswer>(infra, {
      mode: 'probes',
      env: agentEnv(infra),
      agent: agentPath,
      runs: 15,
      marker: floorMarker(infra),
    });
    raw['probes'] = probes;
    rows.push({
      section: 'agent',
      name: 'profile: one agent process (version), in the infra',
      value: median(probes.version),
      unit: 'ms',
      note: 'an alloc+dealloc cycle runs two',
    });
    rows.push({
      section: 'agent',
      name: 'profile: agent is-idle, nothing allocated, in the infra',
      value: median(probes.list),
      unit: 'ms',
      baselineName: 'agent version',
      baseline: median(probes.version),
      note: 'is-idle loads the allocator and takes the global lock (one flock(1) process)',
    });
    rows.push({
      section: 'agent',
      name: 'profile: holder start (unshare --net sleep, lo up)',
      value: median(probes.holder),
      unit: 'ms',
      note: 'once per alloc of a new container; not in the floor',
    });
    rows.push({
      section: 'agent',
      name: 'profile: plugin exec through setpriv --pdeathsig',
      value: median(probes.setpriv),
      unit: 'ms',
      baselineName: '/bin/true run directly',
      baseline: median(probes.bare),
      note: 'the agent wraps every plugin exec in setpriv',
    });
    const explained = 2 * median(probes.version) + median(probes.holder);
    for (const [name, overhead] of overheads) {
      rows.push({
        section: 'agent',
        name: `profile (${name}): agent cycle − floor`,
        value: overhead,
        unit: 'ms',
        baselineName: '2 × agent process (version) + holder start',
        baseline: explained,
        note: 'the rest: flock(1) processes (2 per command), state and cache files, runtime modules, setpriv',
      });
    }
    assertClean(infra, ['benchbr', 'podman']);
  } finally {
    await stop();
  }
  return { rows, raw };
}
