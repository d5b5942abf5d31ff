import { existsSync } from 'node:fs';
import { defaultNetworkDocument } from '../agent/src/cni/default-network.js';
import { assertClean } from './agent.js';
import { agentEnv, inInfra, startInfra } from './infra.js';
import { allOk, median, residentKb, type Row, type StepResult } from './lib.js';
import { agentPath, seaNode } from './startup.js';

/*
 * Memory, as root inside a stand-in infra: the agent's peak RSS per command
 * (GNU time's %M: the maximum resident set of the process and of the
 * children it waited for, i.e. the agent or its largest plugin), next to
 * bare `node -e 0` of the same Node; and what one held namespace keeps
 * resident: its holder, `sleep infinity` (RSS, and PSS, which shares libc's
 * pages among all holders).
 */

const TIME = '/usr/bin/time';
const RUNS = 5;
const MAX_MIB = 80;

function peakKb(r: StepResult): number {
  const all = [...r.stderr.matchAll(/maxrss_kb=(\d+)/g)];
  const last = all.at(-1);
  if (!last) throw new Error(`no maxrss from ${TIME}: ${r.stderr.trim()}`);
  return Number(last[1]);
}

function timed(argv: string[]): { argv: string[] } {
  return { argv: [TIME, '-f', 'maxrss_kb=%M', ...argv] };
}

export async function memorySection(): Promise<{ rows: Row[]; raw: unknown }> {
  if (!existsSync(TIME)) {
    throw new Error(`${TIME} is missing: apt-get install time (Debian package "time")`);
  }
  const network = (defaultNetworkDocument() as { name: string }).name;
  const { infra, stop } = await startInfra();
  const raw: Record<string, number[]> = {};
  const rows: Row[] = [];
  try {
    const env = agentEnv(infra);
    const ids = Array.from({ length: RUNS }, (_, i) => `bench-mem-${i}`);
    const first = allOk(
      await inInfra<StepResult[]>(infra, {
        mode: 'seq',
        env,
        steps: [
          timed([agentPath, 'alloc', 'bench-mem-warm', network, 'warm']),
          timed([agentPath, 'dealloc', 'bench-mem-warm', network]),
          ...ids.map(() => timed([seaNode, '-e', '0'])),
          ...ids.map(() => timed([agentPath, 'version'])),
          ...ids.map((id) => timed([agentPath, 'alloc', id, network, id])),
          ...ids.map(() => timed([agentPath, 'is-idle'])),
          ...ids.map(() => timed([agentPath, 'list'])),
        ],
      }),
      'memory: agent commands',
    ).slice(2);
    const groups = ['node -e 0', 'version', 'alloc', 'is-idle', 'list'];
    groups.forEach((g, k) => (raw[g] = first.slice(k * RUNS, (k + 1) * RUNS).map(peakKb)));
    // What one held namespace keeps resident.
    const holders = first.slice(2 * RUNS, 3 * RUNS).map((r) => {
      const out = r.stdout.trim().split('\n').at(-1)!;
      return Number(/\/proc\/(\d+)\/ns\/net/.exec(out)?.[1]);
    });
    const resident = holders.map((pid) => residentKb(pid)).filter((x) => x !== undefined);
    if (resident.length !== RUNS) throw new Error(`could not read the holders' memory: ${holders.join(' ')}`);
    raw['holder rss'] = resident.map((x) => x.rss);
    raw['holder pss'] = resident.map((x) => x.pss);
    const second = allOk(
      await inInfra<StepResult[]>(infra, { mode: 'seq', env, steps: ids.map((id) => timed([agentPath, 'dealloc', id, network])) }),
      'memory: dealloc',
    );
    raw['dealloc'] = second.map(peakKb);
    assertClean(infra, [network]);
  } finally {
    await stop();
  }
  const base = median(raw['node -e 0']!) / 1024;
  for (const command of ['version', 'alloc', 'dealloc', 'is-idle', 'list']) {
    const value = median(raw[command]!) / 1024;
    rows.push({
      section: 'memory',
      name: `agent peak RSS: ${command}${command === 'alloc' || command === 'dealloc' ? ' (podman chain)' : ''}`,
      value,
      unit: 'MiB',
      samples: RUNS,
      baselineName: 'node -e 0 (same Node 22)',
      baseline: base,
      target: `≤ ${MAX_MIB} MiB`,
      met: value <= MAX_MIB,
    });
  }
  rows.push({
    section: 'memory',
    name: 'per held netns: holder (sleep infinity) RSS',
    value: median(raw['holder rss']!),
    unit: 'KiB',
    samples: RUNS,
  });
  rows.push({
    section: 'memory',
    name: 'per held netns: holder (sleep infinity) PSS',
    value: median(raw['holder pss']!),
    unit: 'KiB',
    samples: RUNS,
    note: 'PSS shares the pages of sleep and libc among all processes mapping them',
  });
  return { rows, raw };
}
