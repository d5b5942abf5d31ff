import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentSection } from './agent.js';
import { hostMissing, hostSection } from './host.js';
import { log, machine, markdownTable, projectRoot, type Row, runCleanups, textTable } from './lib.js';
import { memorySection } from './memory.js';
import { scaleSection } from './scale.js';
import { seaNode, startupSection } from './startup.js';

/*
 * `make bench`: every section, each figure next to its baseline measured in
 * the same run, as medians. Prints a table, then the same as markdown (for
 * the README), and writes bench/results/latest.json (and latest.md) with the
 * machine description and the raw samples.
 *
 *   node build/bench/run.js [--only startup,agent,host,scale,memory] [--skip host]
 *
 * agent, scale and memory need root and the CNI plugins (a stand-in infra
 * with private network and mount namespaces); host needs root and rootless
 * podman (it prepares the user rcni-bench, or $RCNI_BENCH_USER).
 */

const SECTIONS = ['startup', 'agent', 'host', 'scale', 'memory'] as const;
type Section = (typeof SECTIONS)[number];

function parseArgs(argv: string[]): Set<Section> {
  let chosen = new Set<Section>(SECTIONS);
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(`usage: node build/bench/run.js [--only ${SECTIONS.join(',')}] [--skip SECTION,...]\n`);
      process.exit(0);
    }
    if (flag !== '--only' && flag !== '--skip') throw new Error(`unknown argument ${arg}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a list of sections`);
    const names = value.split(',').filter((s) => s !== '');
    for (const n of names) if (!(SECTIONS as readonly string[]).includes(n)) throw new Error(`unknown section ${n} (one of ${SECTIONS.join(', ')})`);
    if (flag === '--only') chosen = new Set(names as Section[]);
    else for (const n of names) chosen.delete(n as Section);
  }
  return chosen;
}

function pluginsMissing(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const p of ['bridge', 'host-local', 'portmap', 'firewall', 'tuning']) {
    if (spawnSync('test', ['-x', `/usr/lib/cni/${p}`]).status !== 0) missing.push(`/usr/lib/cni/${p}`);
  }
  return missing;
}

async function main(): Promise<void> {
  const chosen = parseArgs(process.argv.slice(2));
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      log(`${signal}: cleaning up (stand-in infras, holders, the bench user's infra container)`);
      void runCleanups().finally(() => process.exit(130));
    });
  }
  const agentNode = spawnSync(seaNode, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const started = Date.now();
  const rows: Array<Row & { from?: Section }> = [];
  const raw: Record<string, unknown> = {};
  const skipped: Record<string, string> = {};
  const failed: Record<string, string> = {};
  const before = machine(agentNode);

  const runners: Record<Section, () => Promise<{ rows: Row[]; raw: unknown }>> = {
    startup: () => startupSection({ runs: 30 }),
    agent: () => agentSection({ cycles: 15, warmup: 2 }),
    host: () => hostSection({ cycles: 10, warmup: 2 }),
    scale: () => scaleSection(),
    memory: () => memorySection(),
  };
  for (const section of SECTIONS) {
    if (!chosen.has(section)) continue;
    const missing =
      section === 'startup' ? [] : section === 'host' ? hostMissing() : [...pluginsMissing(), ...(section === 'memory' && !existsSync('/usr/bin/time') ? ['/usr/bin/time (Debian package time)'] : [])];
    if (missing.length > 0) {
      skipped[section] = `needs ${missing.join(', ')}`;
      log(`SKIPPING ${section}: needs ${missing.join(', ')}`);
      continue;
    }
    const t0 = Date.now();
    log(`${section}...`);
    try {
      const result = await runners[section]();
      rows.push(...result.rows.map((r) => ({ ...r, from: section })));
      raw[section] = result.raw;
      log(`${section} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed[section] = err instanceof Error ? err.message : String(err);
      if (!interrupted) log(`${section} FAILED: ${failed[section]}`);
    }
    // Interrupted: the signal handler cleans up and exits; no results.
    if (interrupted) return;
  }
  // Rows of one section measured in another (the host section's memory
  // figures) go after that section's own rows.
  const order = (r: Row & { from?: Section }) => SECTIONS.indexOf(r.section as Section) * 2 + (r.from === r.section ? 0 : 1);
  rows.sort((a, b) => order(a) - order(b));

  const after = machine(agentNode);
  const m = before;
  const header =
    `${m.cpu}, ${m.cores} cores, ${(m.memoryMiB / 1024).toFixed(1)} GiB, Linux ${m.kernel}, ` +
    `bench on Node ${m.benchNode}, agent on Node ${m.agentNode}, ${m.podman}, ${m.date.slice(0, 10)}; ` +
    `load average ${m.loadAverage[0]} before, ${after.loadAverage[0]} after`;
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.section} / ${r.name}: ${r.note}`);
  const text = [header, '', textTable(rows), '', ...notes].join('\n');
  const markdown = [`Measured on ${header}.`, '', markdownTable(rows), '', ...notes].join('\n');
  process.stdout.write(`\n${text}\n\nMarkdown:\n\n${markdown}\n`);
  for (const [s, why] of Object.entries(skipped)) process.stdout.write(`\nskipped ${s}: ${why}\n`);
  for (const [s, why] of Object.entries(failed)) process.stdout.write(`\nFAILED ${s}: ${why}\n`);

  const dir = join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const document = {
    machine: before,
    loadAverageAfter: after.loadAverage,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    sections: [...chosen],
    skipped,
    failed,
    rows,
    raw,
  };
  for (const [name, content] of [
    ['latest.json', `${JSON.stringify(document, null, 2)}\n`],
    ['latest.md', `${markdown}\n`],
  ] as const) {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, content);
    renameSync(`${path}.tmp`, path);
  }
  log(`wrote bench/results/latest.json and latest.md (${document.durationSeconds} s in all)`);
  if (Object.keys(failed).length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
