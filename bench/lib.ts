import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

/*
 * Shared by the benchmark sections: statistics, result rows, the machine
 * description, and running the driver (bench/driver.ts) where the work is.
 */

/** The project root (compiled benchmarks live in build/bench/). */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const driverScript = fileURLToPath(new URL('./driver.js', import.meta.url));

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median absolute deviation: the spread that goes with a median. */
export function mad(values: number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export type Unit = 'ms' | 'MiB' | 'KiB' | 'ops/s' | 'x' | 'count';

/** One figure, next to its baseline measured in the same run. */
export interface Row {
  section: string;
  name: string;
  value: number;
  unit: Unit;
  /** Spread of the samples (median absolute deviation), when there are samples. */
  mad?: number;
  samples?: number;
  baselineName?: string;
  baseline?: number;
  /** value / baseline, unless `ratio` is given (e.g. a speed-up). */
  ratio?: number;
  /** Human-readable target, e.g. "≤ 1.5×" or "≤ 80 MB". */
  target?: string;
  /** Whether the target is met; undefined when there is no target. */
  met?: boolean;
  note?: string;
}

export function ratioOf(row: Row): number | undefined {
  if (row.ratio !== undefined) return row.ratio;
  if (row.baseline === undefined || row.baseline === 0) return undefined;
  return row.value / row.baseline;
}

/** A row whose target is a maximum ratio to its baseline. */
export function ratioRow(row: Omit<Row, 'target' | 'met'>, maxRatio: number | undefined): Row {
  const full: Row = { ...row };
  const r = ratioOf(full);
  if (maxRatio !== undefined) {
    full.target = `≤ ${maxRatio}×`;
    full.met = r !== undefined && r <= maxRatio;
  }
  return full;
}

function fmt(value: number | undefined, unit?: Unit): string {
  if (value === undefined || Number.isNaN(value)) return '';
  const digits = unit === 'count' ? 0 : Math.abs(value) >= 100 ? 0 : 1;
  const text = value.toFixed(digits);
  return unit === undefined || unit === 'x' || unit === 'count' ? text : `${text} ${unit}`;
}

function cells(row: Row): string[] {
  const r = ratioOf(row);
  const spread = row.mad !== undefined && row.samples !== undefined ? ` ±${fmt(row.mad)} (n=${row.samples})` : '';
  return [
    row.section,
    row.name,
    `${fmt(row.value, row.unit)}${spread}`,
    row.baselineName ?? '',
    fmt(row.baseline, row.unit),
    r === undefined ? '' : `${r.toFixed(2)}×`,
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ];
}

const HEADERS = ['section', 'figure', 'value (median)', 'baseline', 'baseline value', 'ratio', 'target', 'met'];

export function textTable(rows: Row[]): string {
  const table = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(table[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    `| ${HEADERS.join(' | ')} |`,
    `| ${HEADERS.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${cells(row).map(esc).join(' | ')} |`),
  ].join('\n');
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryMiB: number;
  freeMemoryMiB: number;
  kernel: string;
  benchNode: string;
  agentNode: string;
  podman: string;
  date: string;
  loadAverage: number[];
}

export function machine(agentNode: string): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (model) cpu = model[1]!.trim();
  } catch {
    // keep os.cpus()'s
  }
  const podman = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  return {
    cpu,
    cores: cpus().length,
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    freeMemoryMiB: Math.round(freemem() / 1024 / 1024),
    kernel: release(),
    benchNode: process.version,
    agentNode,
    podman: podman.status === 0 ? podman.stdout.trim() : 'absent',
    date: new Date().toISOString(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export interface StepResult {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Process groups of the programs running now (each started in its own group). */
const running = new Set<number>();

/** Kills every program started by runProgram that still runs, with what it started in its group. */
export function killRunning(): void {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  running.clear();
}

/**
 * Runs a program (argument vector) in its own process group, so that an
 * interrupted run can stop it and the agents it runs (killRunning); returns
 * its exit code and output.
 */
export function runProgram(
  file: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 600_000,
      detached: true,
    });
    const pgid = child.pid;
    if (pgid !== undefined) running.add(pgid);
    child.on('exit', () => {
      if (pgid !== undefined) running.delete(pgid);
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the driver through `prefix` (nsenter ..., runuser ...) with a request; returns its answer. */
export async function driver<T>(prefix: string[], node: string, script: string, request: unknown): Promise<T> {
  const [file, ...args] = [...prefix, node, script];
  const result = await runProgram(file!, args, { input: JSON.stringify(request), env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  if (result.code !== 0) throw new Error(`bench driver (${(request as { mode: string }).mode}) failed: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as T;
}

/** Throws unless every step succeeded. */
export function allOk(results: StepResult[], what: string): StepResult[] {
  const bad = results.find((r) => r.code !== 0);
  if (bad) throw new Error(`${what} failed (exit ${bad.code}): ${bad.stderr.trim()}`.slice(0, 2000));
  return results;
}

/** Resident memory of a process: VmRSS and PSS (smaps_rollup), in kB. */
export function residentKb(pid: number): { rss: number; pss: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    const pss = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1]);
    return Number.isFinite(rss) && Number.isFinite(pss) ? { rss, pss } : undefined;
  } catch {
    return undefined;
  }
}

const cleanups = new Set<() => Promise<void>>();

/**
 * Registers a clean-up; returns the function that runs it, once: the normal
 * path (a finally block) and an interruption (SIGINT, SIGTERM: see run.ts)
 * share the same run, and the interrupted process exits only after it.
 */
export function cleanup(fn: () => unknown): () => Promise<void> {
  let done: Promise<void> | undefined;
  const runOnce = (): Promise<void> =>
    (done ??= (async () => {
      try {
        await fn();
      } finally {
        cleanups.delete(runOnce);
      }
    })());
  cleanups.add(runOnce);
  return runOnce;
}

/**
 * Stops the programs running now (drivers and the agents they run), lets
 * the kernel finish off what they started, then runs the registered
 * clean-ups (newest first), whatever they throw.
 */
export async function runCleanups(): Promise<void> {
  killRunning();
  await new Promise((r) => setTimeout(r, 300));
  for (const fn of [...cleanups].reverse()) {
    try {
      await fn();
    } catch (err) {
      log(`clean-up failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
