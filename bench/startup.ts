import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { mad, median, projectRoot, ratioRow, type Row } from './lib.js';

/*
 * Agent startup: `rootless-cni-infra version` against bare `node -e 0` of the
 * same Node (the one pkg embeds), interleaved run by run so that a load
 * change on the machine hits both alike. For the profile, the same agent
 * bundle run by that Node from a file (no SEA) shows what the SEA packaging
 * costs on top of our JavaScript.
 */

const require = createRequire(import.meta.url);
export const seaNode = require.resolve(`node-linux-${process.arch}/bin/node`);
export const agentPath = join(projectRoot, 'dist', 'rootless-cni-infra');
const agentBundle = join(projectRoot, 'build', 'bundle', 'rootless-cni-infra.cjs');

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
  const commands: Array<[string, string, string[]]> = [
    ['node', seaNode, ['-e', '0']],
    ['agent', agentPath, ['version']],
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
  const base = median(samples['node']!);
  const rows: Row[] = [
    ratioRow(
      {
        section: 'startup',
        name: 'rootless-cni-infra version',
        value: median(samples['agent']!),
        mad: mad(samples['agent']!),
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
      name: 'profile: same bundle, node FILE version (no SEA)',
      value: median(samples['bundle']),
      mad: mad(samples['bundle']),
      samples: runs,
      unit: 'ms',
      baselineName: 'node -e 0 (same Node 22)',
      baseline: base,
    });
  }
  return { rows, raw: samples };
}
