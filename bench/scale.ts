import { assertClean, runCycles } from './agent.js';
import { agentEnv, bridgeOnly, inInfra, startInfra } from './infra.js';
import { allOk, mad, median, ratioRow, type Row, type StepResult } from './lib.js';
import { agentPath } from './startup.js';

/*
 * Scale, as root inside a stand-in infra, on a bridge + host-local network
 * with a /16: COUNT containers allocated one after another (does an alloc
 * get slower as containers pile up?), all deallocated, then CONCURRENT allocs
 * at once and CONCURRENT deallocs at once (all succeed, distinct addresses),
 * their wall time and throughput against the sequential per-op time. A few
 * floor cycles with nothing attached and with COUNT attached tell how much
 * of any slow-down is the plugins' own.
 */

const COUNT = 200;
const WINDOW = 20;
const CONCURRENT = 50;

interface ParAnswer {
  wallMs: number;
  results: StepResult[];
}

export async function scaleSection(): Promise<{ rows: Row[]; raw: unknown }> {
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const { infra, stop } = await startInfra();
  try {
    const network = bridgeOnly('benchscale', 'cni-bscale0', '10.92.0.0/16', '10.92.0.1');
    infra.writeConf('10-benchscale.conflist', network);
    const env = agentEnv(infra);
    const name = network.name;

    const empty = await runCycles(infra, network, 5, 1, 'bench-s0-');
    const ids = Array.from({ length: COUNT }, (_, i) => `bench-seq-${i}`);
    // Each alloc is followed by an agent `version`, which no amount of state
    // slows down: its first and last windows tell how much the machine's
    // load drifted between them (other work shares these 2 cores).
    const seqResults = allOk(
      await inInfra<StepResult[]>(infra, {
        mode: 'seq',
        env,
        steps: ids.flatMap((id) => [{ argv: [agentPath, 'alloc', id, name, id] }, { argv: [agentPath, 'version'] }]),
      }),
      'sequential allocs',
    ).map((r) => r.ms);
    const allocs = seqResults.filter((_, i) => i % 2 === 0);
    const drift = seqResults.filter((_, i) => i % 2 === 1);
    const full = await runCycles(infra, network, 5, 1, 'bench-sN-');
    const deallocs = allOk(
      await inInfra<StepResult[]>(infra, { mode: 'seq', env, steps: ids.map((id) => ({ argv: [agentPath, 'dealloc', id, name] })) }),
      'sequential deallocs',
    ).map((r) => r.ms);
    raw['sequential'] = { allocs, versionAfterEachAlloc: drift, deallocs, floorEmpty: empty, floorFull: full };
    assertClean(infra, [name]);

    const cids = Array.from({ length: CONCURRENT }, (_, i) => `bench-par-${i}`);
    const par = await inInfra<ParAnswer>(infra, {
      mode: 'par',
      env,
      steps: cids.map((id) => ({ argv: [agentPath, 'alloc', id, name, id, '--print-result'] })),
    });
    const parFailed = par.results.filter((r) => r.code !== 0);
    const ips = par.results
      .filter((r) => r.code === 0)
      .map((r) => {
        const out = JSON.parse(r.stdout) as { result: { ips: Array<{ address: string }> } };
        return out.result.ips[0]!.address;
      });
    const distinct = new Set(ips).size;
    const parDel = await inInfra<ParAnswer>(infra, {
      mode: 'par',
      env,
      steps: cids.map((id) => ({ argv: [agentPath, 'dealloc', id, name] })),
    });
    const parDelFailed = parDel.results.filter((r) => r.code !== 0);
    raw['concurrent'] = {
      allocWallMs: par.wallMs,
      deallocWallMs: parDel.wallMs,
      allocMs: par.results.map((r) => r.ms),
      deallocMs: parDel.results.map((r) => r.ms),
      failures: [...parFailed, ...parDelFailed].map((r) => r.stderr.trim()),
      distinctIps: distinct,
    };
    assertClean(infra, [name]);

    const first = allocs.slice(0, WINDOW);
    const last = allocs.slice(-WINDOW);
    rows.push(
      ratioRow(
        {
          section: 'scale',
          name: `sequential alloc #${COUNT - WINDOW + 1}-${COUNT} (per op)`,
          value: median(last),
          mad: mad(last),
          samples: WINDOW,
          unit: 'ms',
          baselineName: `alloc #1-${WINDOW} (per op)`,
          baseline: median(first),
          note: `/16 bridge + host-local; median of all ${COUNT}: ${median(allocs).toFixed(1)} ms`,
        },
        1.2,
      ),
    );
    rows.push({
      section: 'scale',
      name: `profile: agent version after alloc #${COUNT - WINDOW + 1}-${COUNT}`,
      value: median(drift.slice(-WINDOW)),
      unit: 'ms',
      samples: WINDOW,
      baselineName: `after alloc #1-${WINDOW}`,
      baseline: median(drift.slice(0, WINDOW)),
      note: 'independent of the number of containers: a ratio away from 1 is load drift on the machine',
    });
    rows.push({
      section: 'scale',
      name: `sequential dealloc with ${COUNT - WINDOW + 1}-${COUNT} attached (per op)`,
      value: median(deallocs.slice(0, WINDOW)),
      mad: mad(deallocs.slice(0, WINDOW)),
      samples: WINDOW,
      unit: 'ms',
      baselineName: `dealloc with 1-${WINDOW} attached`,
      baseline: median(deallocs.slice(-WINDOW)),
    });
    const floorEmpty = median(empty.floor.map((c) => c.total));
    const floorFull = median(full.floor.map((c) => c.total));
    rows.push({
      section: 'scale',
      name: `profile: floor cycle with ${COUNT} attached`,
      value: floorFull,
      unit: 'ms',
      samples: full.floor.length,
      baselineName: 'floor cycle with none attached',
      baseline: floorEmpty,
    });
    rows.push({
      section: 'scale',
      name: `profile: agent cycle with ${COUNT} attached`,
      value: median(full.agent.map((c) => c.total)),
      unit: 'ms',
      samples: full.agent.length,
      baselineName: 'agent cycle with none attached',
      baseline: median(empty.agent.map((c) => c.total)),
    });
    const seqAlloc = median(allocs);
    const seqDealloc = median(deallocs);
    const okAlloc = parFailed.length === 0 && distinct === CONCURRENT;
    rows.push({
      section: 'scale',
      name: `${CONCURRENT} concurrent allocs: wall time`,
      value: par.wallMs,
      unit: 'ms',
      baselineName: `${CONCURRENT} × sequential alloc`,
      baseline: CONCURRENT * seqAlloc,
      target: 'all succeed, distinct IPs',
      met: okAlloc,
      note: `${CONCURRENT - parFailed.length}/${CONCURRENT} succeeded, ${distinct} distinct IPs`,
    });
    rows.push({
      section: 'scale',
      name: `${CONCURRENT} concurrent allocs: throughput`,
      value: (CONCURRENT * 1000) / par.wallMs,
      unit: 'ops/s',
      baselineName: 'sequential alloc (1 / median)',
      baseline: 1000 / seqAlloc,
    });
    rows.push({
      section: 'scale',
      name: `${CONCURRENT} concurrent deallocs: wall time`,
      value: parDel.wallMs,
      unit: 'ms',
      baselineName: `${CONCURRENT} × sequential dealloc`,
      baseline: CONCURRENT * seqDealloc,
      target: 'all succeed',
      met: parDelFailed.length === 0,
      note: `${CONCURRENT - parDelFailed.length}/${CONCURRENT} succeeded; nothing left after`,
    });
    rows.push({
      section: 'scale',
      name: `${CONCURRENT} concurrent deallocs: throughput`,
      value: (CONCURRENT * 1000) / parDel.wallMs,
      unit: 'ops/s',
      baselineName: 'sequential dealloc (1 / median)',
      baseline: 1000 / seqDealloc,
    });
  } finally {
    await stop();
  }
  return { rows, raw };
}
