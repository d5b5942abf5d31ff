import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mad, median, projectRoot, ratioRow, type Row } from './lib.js';

/*
 * Agent startup: `rootless-cni-infra version` against bare `node -e 0` of the
 * same Node (the one pkg embeds), interleaved run by run so that a load
 * change on the machine hits both alike.
 *
 * For the profile, the same Node also runs, from files: the agent's own
 * bundle (build/bundle, what pkg packs: is the SEA packaging itself a cost?),
 * a bundle of yargs alone configured as the agent configures it with one
 * command (what the argument parser costs), and an empty bundle (what loading
 * any script costs). The last two are bundled here with esbuild, with the
 * options scripts/build.mjs uses.
 */

const require = createRequire(import.meta.url);
export const seaNode = require.resolve(`node-linux-${process.arch}/bin/node`);
export const agentPath = join(projectRoot, 'dist', 'rootless-cni-infra');
const agentBundle = join(projectRoot, 'build', 'bundle', 'rootless-cni-infra.cjs');

const YARGS_PROBE = `
import yargs from 'yargs';
void yargs(process.argv.slice(2))
  .scriptName('rootless-cni-infra')
  .usage('Usage: rootless-cni-infra <command> [arguments]')
  .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
  .strict()
  .demandCommand(1, 'no command given')
  .recommendCommands()
  .help('help')
  .alias('help', 'h')
  .version(false)
  .wrap(100)
  .command({ command: 'version', describe: 'version', handler: () => { process.stdout.write('{"version":"7"}\\n'); } })
  .parseAsync();
`;
const EMPTY_PROBE = `process.stdout.write('{"version":"7"}\\n');`;

async function bundleProbes(dir: string): Promise<{ yargs: string; empty: string }> {
  const { build } = await import('esbuild');
  // Bundled exactly as the agent is.
  const { bundleOptions } = (await import(pathToFileURL(join(projectRoot, 'scripts', 'bundle-options.mjs')).href)) as {
    bundleOptions: (root: string) => Record<string, unknown>;
  };
  const options = bundleOptions(projectRoot);
  const out = { yargs: join(dir, 'yargs-probe.cjs'), empty: join(dir, 'empty-probe.cjs') };
  for (const [contents, outfile] of [
    [YARGS_PROBE, out.yargs],
    [EMPTY_PROBE, out.empty],
  ] as const) {
    await build({ stdin: { contents, resolveDir: projectRoot, loader: 'ts' }, outfile, ...options });
  }
  return out;
}

function timeOnce(file: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(file, args, { env: {}, stdio: 'ignore', cwd: '/' });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${result.status}`);
  return elapsed;
}

export async function startupSection(options: { runs: number }): Promise<{ rows: Row[]; raw: unknown }> {
  const runs = options.runs;
  const warmup = 3;
  const dir = mkdtempSync(join(tmpdir(), 'rcni-bench-startup-'));
  try {
    const probes = await bundleProbes(dir);
    const commands: Array<[string, string, string[]]> = [
      ['node', seaNode, ['-e', '0']],
      ['agent', agentPath, ['version']],
      ['yargs', seaNode, [probes.yargs, 'version']],
      ['empty', seaNode, [probes.empty]],
    ];
    if (existsSync(agentBundle)) commands.push(['bundle', seaNode, [agentBundle, 'version']]);
    const samples: Record<string, number[]> = Object.fromEntries(commands.map(([k]) => [k, []]));
    for (let i = 0; i < warmup + runs; i += 1) {
      // Rotate the order, so that none always runs first.
      for (let j = 0; j < commands.length; j += 1) {
        const [key, file, args] = commands[(i + j) % commands.length]!;
        const ms = timeOnce(file, args);
        if (i >= warmup) samples[key]!.push(ms);
      }
    }
    const s = (k: string) => samples[k]!;
    const base = median(s('node'));
    const rows: Row[] = [
      ratioRow(
        {
          section: 'startup',
          name: 'rootless-cni-infra version',
          value: median(s('agent')),
          mad: mad(s('agent')),
          samples: runs,
          unit: 'ms',
          baselineName: 'node -e 0 (same Node 22)',
          baseline: base,
        },
        1.5,
      ),
    ];
    if (samples['bundle']) {
      rows.push({
        section: 'startup',
        name: 'profile: the agent bundle, node FILE version (no SEA)',
        value: median(s('bundle')),
        unit: 'ms',
        baselineName: 'node -e 0',
        baseline: base,
      });
    }
    rows.push({
      section: 'startup',
      name: 'profile: yargs alone, bundled alike, one command',
      value: median(s('yargs')),
      unit: 'ms',
      baselineName: 'empty bundle, node FILE',
      baseline: median(s('empty')),
      note: `yargs adds ${(median(s('yargs')) - median(s('empty'))).toFixed(1)} ms to a script; the agent adds ${(median(s('agent')) - base).toFixed(1)} ms to node -e 0`,
    });
    return { rows, raw: samples };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
