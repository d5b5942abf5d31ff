import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HOLDER_MARKER_VARIABLE } from '../common/src/holder-identity.js';
import { type E2eUser, lookupUser, processesOf, userEnv } from '../test/helpers/podman.js';
import {
  cleanup,
  driver,
  driverScript,
  log,
  mad,
  median,
  projectRoot,
  ratioRow,
  residentKb,
  type Row,
  runProgram,
  type StepResult,
} from './lib.js';

/*
 * The host path with real rootless podman, as a dedicated test user
 * (scripts/e2e-user.sh rcni-bench, image built into its storage by
 * scripts/build-image.sh --user rcni-bench): `rootless-cni alloc` + `dealloc`
 * with the infra container warm (one other allocation stays alive, so the
 * container is not removed between cycles), against what the original
 * protocol spent on podman alone for the same job: five `podman exec`s of a
 * no-op (alloc, print-netns-path, print-cni-result, dealloc, is-idle were five
 * execs). Two no-ops are measured: the agent's `version` (the exec plus our
 * agent's startup) and `true` (the exec alone); and, as a third baseline, the
 * original protocol doing the job: those five execs of our agent, with the
 * same plugin work as the shim's two. Also the cold first alloc
 * (infra container created) and the last dealloc (infra container removed),
 * and what each held namespace keeps resident on the host: its holder and
 * the conmon of the `podman exec` session that started it.
 *
 * Everything is timed by the driver, running as the user (runuser ... env -i
 * node driver.mjs), so runuser is outside the timed region. The shim runs
 * from a world-readable copy of dist/ (the project tree may not be readable
 * by the user), with the system Node, as a user would run it.
 */

const USER = process.env['RCNI_BENCH_USER'] || 'rcni-bench';
const INFRA = 'rootless-cni-infra';
const NETWORK = 'podman';
const KEEP = 'bench-keep';
const SYSTEM_NODE = '/usr/bin/node';
const PODMAN = '/usr/bin/podman';
const COLD_REPS = 3;
const HELD = 5;

export function hostMissing(): string[] {
  return [
    ...(process.getuid?.() === 0 ? [] : ['root']),
    ...[PODMAN, '/usr/bin/slirp4netns', '/usr/sbin/runuser', '/usr/bin/newuidmap', SYSTEM_NODE].filter((p) => !existsSync(p)),
    ...(existsSync(join(projectRoot, 'dist', 'rootless-cni')) ? [] : ['dist/rootless-cni (make build)']),
  ];
}

async function rootScript(args: string[]): Promise<void> {
  const [script, ...rest] = args;
  const result = await runProgram(join(projectRoot, script!), rest, { env: { ...process.env, NODE_OPTIONS: '' } });
  if (result.code !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.trim()}`);
}

interface Ctx {
  user: E2eUser;
  dir: string;
  shim: string;
  env: Record<string, string>;
}

function asUser<T>(c: Ctx, request: unknown): Promise<T> {
  return driver<T>(['runuser', '-u', c.user.name, '--', 'env', '-i', '-C', '/', ...userEnv(c.user)], SYSTEM_NODE, join(c.dir, 'driver.mjs'), request);
}

async function seq(c: Ctx, steps: string[][]): Promise<StepResult[]> {
  return asUser<StepResult[]>(c, { mode: 'seq', env: c.env, steps: steps.map((argv) => ({ argv })) });
}

function ok(r: StepResult, what: string): StepResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()}`.slice(0, 2000));
  return r;
}

function holderPid(r: StepResult): number {
  const ns = (JSON.parse(r.stdout) as { ns: string }).ns;
  return Number(/^\/proc\/(\d+)\/ns\/net$/.exec(ns)![1]);
}

function conmons(uid: number): Map<number, string[]> {
  return new Map(processesOf(uid).filter((p) => p.argv[0]?.endsWith('conmon')).map((p) => [p.pid, p.argv]));
}

function holdersOf(uid: number): number[] {
  return processesOf(uid)
    .filter((p) => p.environ.some((e) => e.startsWith(`${HOLDER_MARKER_VARIABLE}=`)))
    .map((p) => p.pid);
}

async function cleanUp(c: Ctx): Promise<void> {
  await seq(c, [[c.shim, 'rm', '--force']]);
  for (const pid of holdersOf(c.user.uid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export async function hostSection(options: { cycles: number; warmup: number }): Promise<{ rows: Row[]; raw: unknown }> {
  const setupStart = Date.now();
  await rootScript(['scripts/e2e-user.sh', USER]);
  await rootScript(['scripts/build-image.sh', '--user', USER]);
  log(`host: user ${USER} and its image ready in ${((Date.now() - setupStart) / 1000).toFixed(1)} s`);
  const user = lookupUser(USER);
  if (user === undefined) throw new Error(`scripts/e2e-user.sh did not create ${USER}`);
  const dir = mkdtempSync('/tmp/rcni-bench-');
  chmodSync(dir, 0o755);
  copyFileSync(join(projectRoot, 'dist', 'rootless-cni'), join(dir, 'rootless-cni'));
  copyFileSync(join(projectRoot, 'dist', 'package.json'), join(dir, 'package.json'));
  copyFileSync(driverScript, join(dir, 'driver.mjs'));
  chmodSync(join(dir, 'rootless-cni'), 0o755);
  chmodSync(join(dir, 'package.json'), 0o644);
  chmodSync(join(dir, 'driver.mjs'), 0o644);
  const env = Object.fromEntries(userEnv(user).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const c: Ctx = { user, dir, shim: join(dir, 'rootless-cni'), env };

  const cold: number[] = [];
  const removal: number[] = [];
  const warm = { alloc: [] as number[], dealloc: [] as number[], original: [] as number[], version5: [] as number[], true5: [] as number[], ps: [] as number[], shimStart: [] as number[], node: [] as number[] };
  const memory = { conmonsPerNetns: Number.NaN, conmonRss: [] as number[], conmonPss: [] as number[], holderRss: [] as number[], holderPss: [] as number[], conmonsAfterDealloc: Number.NaN };
  const exec = (cmd: string[]) => [PODMAN, 'exec', INFRA, ...cmd];
  const finish = cleanup(async () => {
    try {
      await cleanUp(c);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  try {
    await cleanUp(c);
    for (let rep = 0; rep < COLD_REPS; rep += 1) {
      const [first] = await seq(c, [[c.shim, 'alloc', KEEP, NETWORK]]);
      cold.push(ok(first!, 'cold alloc').ms);

      if (rep === 0) {
        // Warm: cycles interleaved with their baselines, rotating the order.
        type Kind = 'cycle' | 'original' | 'version5' | 'true5' | 'probe';
        const plan: Array<{ kind: Kind; i: number; at: number; n: number }> = [];
        const steps: string[][] = [];
        const add = (kind: Kind, i: number, argvs: string[][]) => {
          plan.push({ kind, i, at: steps.length, n: argvs.length });
          steps.push(...argvs);
        };
        const blocks: Array<[Kind, (i: number) => string[][]]> = [
          ['cycle', (i) => [[c.shim, 'alloc', `bench-w${i}`, NETWORK], [c.shim, 'dealloc', `bench-w${i}`, NETWORK]]],
          [
            'original',
            (i) => [
              exec(['rootless-cni-infra', 'alloc', `bench-o${i}`, NETWORK, `bench-o${i}`]),
              exec(['rootless-cni-infra', 'print-netns-path', `bench-o${i}`]),
              exec(['rootless-cni-infra', 'print-cni-result', `bench-o${i}`, NETWORK]),
              exec(['rootless-cni-infra', 'dealloc', `bench-o${i}`, NETWORK]),
              exec(['rootless-cni-infra', 'is-idle']),
            ],
          ],
          ['version5', () => Array.from({ length: 5 }, () => exec(['rootless-cni-infra', 'version']))],
          ['true5', () => Array.from({ length: 5 }, () => exec(['true']))],
          [
            'probe',
            () => [
              [PODMAN, 'ps', '-a', '--filter', `name=^${INFRA}$`, '--format', 'json'],
              [c.shim, 'version'],
              [SYSTEM_NODE, '-e', '0'],
            ],
          ],
        ];
        for (let i = 0; i < options.warmup + options.cycles; i += 1) {
          for (let j = 0; j < blocks.length; j += 1) {
            const [kind, argvs] = blocks[(i + j) % blocks.length]!;
            add(kind, i, argvs(i));
          }
        }
        const results = await seq(c, steps);
        for (const p of plan) {
          const rs = results.slice(p.at, p.at + p.n).map((r, k) => ok(r, steps[p.at + k]!.join(' ')));
          if (p.i < options.warmup) continue;
          if (p.kind === 'cycle') {
            warm.alloc.push(rs[0]!.ms);
            warm.dealloc.push(rs[1]!.ms);
          } else if (p.kind === 'original') {
            warm.original.push(rs.reduce((a, r) => a + r.ms, 0));
          } else if (p.kind === 'version5') {
            warm.version5.push(rs.reduce((a, r) => a + r.ms, 0));
          } else if (p.kind === 'true5') {
            warm.true5.push(rs.reduce((a, r) => a + r.ms, 0));
          } else {
            warm.ps.push(rs[0]!.ms);
            warm.shimStart.push(rs[1]!.ms);
            warm.node.push(rs[2]!.ms);
          }
        }

        // What each held namespace keeps alive on the host.
        const before = conmons(user.uid);
        const ids = Array.from({ length: HELD }, (_, i) => `bench-m${i}`);
        const allocs = (await seq(c, ids.map((id) => [c.shim, 'alloc', id, NETWORK]))).map((r) => ok(r, 'alloc'));
        const after = conmons(user.uid);
        const fresh = [...after.keys()].filter((pid) => !before.has(pid));
        memory.conmonsPerNetns = fresh.length / HELD;
        for (const pid of fresh) {
          const m = residentKb(pid);
          if (m) {
            memory.conmonRss.push(m.rss);
            memory.conmonPss.push(m.pss);
          }
        }
        for (const r of allocs) {
          const m = residentKb(holderPid(r));
          if (m) {
            memory.holderRss.push(m.rss);
            memory.holderPss.push(m.pss);
          }
        }
        (await seq(c, ids.map((id) => [c.shim, 'dealloc', id, NETWORK]))).forEach((r) => ok(r, 'dealloc'));
        await new Promise((r) => setTimeout(r, 500));
        memory.conmonsAfterDealloc = [...conmons(user.uid).keys()].filter((pid) => !before.has(pid)).length;
      }

      const [last] = await seq(c, [[c.shim, 'dealloc', KEEP, NETWORK]]);
      ok(last!, 'last dealloc');
      if ((JSON.parse(last!.stdout) as { infraRemoved?: boolean }).infraRemoved !== true) {
        throw new Error(`the last dealloc did not remove the infra container: ${last!.stdout}`);
      }
      removal.push(last!.ms);
    }
    const leftovers = holdersOf(user.uid);
    if (leftovers.length > 0) throw new Error(`holders left after the last dealloc: ${leftovers.join(' ')}`);
  } finally {
    await finish();
  }

  const cycles = warm.alloc.map((a, i) => a + warm.dealloc[i]!);
  const cycle = median(cycles);
  const rows: Row[] = [
    ratioRow(
      {
        section: 'host',
        name: 'rootless-cni alloc + dealloc (warm infra)',
        value: cycle,
        mad: mad(cycles),
        samples: cycles.length,
        unit: 'ms',
        baselineName: '5 × podman exec … rootless-cni-infra version',
        baseline: median(warm.version5),
      },
      0.5,
    ),
    ratioRow(
      {
        section: 'host',
        name: 'rootless-cni alloc + dealloc (warm infra)',
        value: cycle,
        unit: 'ms',
        baselineName: '5 × podman exec … true',
        baseline: median(warm.true5),
      },
      0.5,
    ),
    ratioRow(
      {
        section: 'host',
        name: 'rootless-cni alloc + dealloc (warm infra)',
        value: cycle,
        unit: 'ms',
        baselineName: 'original protocol: 5 podman execs doing the job',
        baseline: median(warm.original),
        note: 'podman exec of the agent: alloc, print-netns-path, print-cni-result, dealloc, is-idle (the same plugin work)',
      },
      0.5,
    ),
    {
      section: 'host',
      name: 'profile: podman exec … rootless-cni-infra version',
      value: median(warm.version5) / 5,
      unit: 'ms',
      baselineName: 'podman exec … true',
      baseline: median(warm.true5) / 5,
      note: 'the difference is the agent process inside the container',
    },
    {
      section: 'host',
      name: 'profile: rootless-cni alloc (warm)',
      value: median(warm.alloc),
      unit: 'ms',
      baselineName: 'podman exec … true',
      baseline: median(warm.true5) / 5,
      note: 'shim = system Node startup + one podman exec of the agent (which checks the protocol itself)',
    },
    {
      section: 'host',
      name: 'profile: rootless-cni dealloc (warm)',
      value: median(warm.dealloc),
      unit: 'ms',
      baselineName: 'podman exec … true',
      baseline: median(warm.true5) / 5,
    },
    {
      section: 'host',
      name: 'profile: podman ps -a --filter … --format json',
      value: median(warm.ps),
      unit: 'ms',
      baselineName: 'podman exec … true',
      baseline: median(warm.true5) / 5,
    },
    {
      section: 'host',
      name: 'profile: rootless-cni version (shim startup)',
      value: median(warm.shimStart),
      unit: 'ms',
      baselineName: 'system node -e 0',
      baseline: median(warm.node),
    },
    {
      section: 'host',
      name: 'cold first alloc (infra container created)',
      value: median(cold),
      samples: cold.length,
      unit: 'ms',
      baselineName: 'warm alloc',
      baseline: median(warm.alloc),
    },
    {
      section: 'host',
      name: 'last dealloc (infra container removed)',
      value: median(removal),
      samples: removal.length,
      unit: 'ms',
      baselineName: 'warm dealloc',
      baseline: median(warm.dealloc),
    },
    {
      section: 'memory',
      name: 'rootless, per held netns: conmon processes',
      value: memory.conmonsPerNetns,
      unit: 'count',
      note: `${memory.conmonsAfterDealloc} of them left after dealloc`,
    },
    {
      section: 'memory',
      name: 'rootless, per held netns: conmon RSS',
      value: median(memory.conmonRss),
      unit: 'KiB',
      samples: memory.conmonRss.length,
      note: `PSS ${median(memory.conmonPss)} KiB`,
    },
    {
      section: 'memory',
      name: 'rootless, per held netns: holder RSS',
      value: median(memory.holderRss),
      unit: 'KiB',
      samples: memory.holderRss.length,
      note: `PSS ${median(memory.holderPss)} KiB`,
    },
  ];
  return { rows, raw: { cold, removal, warm, memory } };
}
