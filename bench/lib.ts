import { spawnSync } from 'node:child_process';

/** Median wall time in milliseconds of `runs` executions of a command (after `warmup` unmeasured ones). */
export function timeCommand(file: string, args: string[], runs = 30, warmup = 3, env: NodeJS.ProcessEnv = {}): number {
  const samples: number[] = [];
  for (let i = 0; i < warmup + runs; i += 1) {
    const start = process.hrtime.bigint();
    const result = spawnSync(file, args, { env, stdio: 'ignore', cwd: '/' });
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${result.status}`);
    if (i >= warmup) samples.push(elapsed);
  }
  return median(samples);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatRow(name: string, value: number, baselineName: string, baseline: number): string {
  return `${name.padEnd(36)} ${value.toFixed(1).padStart(8)} ms   ${baselineName.padEnd(28)} ${baseline
    .toFixed(1)
    .padStart(8)} ms   ratio ${(value / baseline).toFixed(2)}x`;
}
