import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

/*
 * The benchmarks' in-place driver. It runs where the work happens, so that
 * no nsenter or runuser sits inside a timed region:
 *   - inside a TestInfra (nsenter --mount --net ... node driver.js), as root;
 *   - as the rootless test user (runuser ... env -i ... node driver.mjs),
 *     copied next to the host shim (it must import nothing but node:*, and
 *     run on the system Node 20 as well as on Node 22).
 * It reads one JSON request on stdin and prints one JSON answer on stdout.
 * Every child is spawned with an argument vector, never a shell.
 *
 * Modes:
 *   seq     run steps one after another, each timed
 *   par     start all steps at once; the wall time until the last one ends
 *   cycles  alloc+dealloc cycles of the agent, interleaved with the floor:
 *           the same plugin chain executed directly (ADD in order with
 *           prevResult, DEL in reverse with the final result), in a netns held
 *           by a holder started here, timing only the plugin executions
 *   probes  the pieces of an agent cycle, for the profile: agent startup
 *           (version), startup + state + lock (is-idle), holder start, the
 *           setpriv wrapper of each plugin exec
 */

interface Step {
  argv: string[];
  input?: string;
}

interface StepResult {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Conflist {
  name: string;
  cniVersion: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

interface SeqRequest {
  mode: 'seq';
  env: Record<string, string>;
  steps: Step[];
}

interface ParRequest {
  mode: 'par';
  env: Record<string, string>;
  steps: Step[];
}

interface CyclesRequest {
  mode: 'cycles';
  env: Record<string, string>;
  agent: string;
  pluginDir: string;
  network: Conflist;
  cycles: number;
  warmup: number;
  idPrefix: string;
  /** Environment marker of the floor's holders (so that TestInfra.stop() finds them too). */
  marker: string;
}

interface ProbesRequest {
  mode: 'probes';
  env: Record<string, string>;
  agent: string;
  runs: number;
  marker: string;
}

type Request = SeqRequest | ParRequest | CyclesRequest | ProbesRequest;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function runSync(argv: string[], env: Record<string, string>, input = ''): StepResult {
  const start = nowMs();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, input, encoding: 'utf8', cwd: '/', maxBuffer: 64 * 1024 * 1024 });
  const ms = nowMs() - start;
  if (r.error) return { ms, code: null, stdout: '', stderr: String(r.error) };
  return { ms, code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runAsync(argv: string[], env: Record<string, string>, input = ''): Promise<StepResult> {
  return new Promise((resolve) => {
    const start = nowMs();
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ ms: nowMs() - start, code: null, stdout, stderr: stderr + String(err) }));
    child.on('close', (code) => resolve({ ms: nowMs() - start, code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

function must(r: StepResult, what: string): StepResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()} ${r.stdout.trim()}`.slice(0, 2000));
  return r;
}

function readNetns(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Holder {
  pid: number;
  netns: string;
  exited: Promise<void>;
}

/** `unshare --net sleep infinity`, as the agent starts its holders, with loopback up. */
async function startHolder(env: Record<string, string>, marker: string): Promise<Holder> {
  const own = readNetns('self');
  const child = spawn('unshare', ['--net', '--', 'sleep', 'infinity'], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ROOTLESS_CNI_INFRA_HOLDER: marker },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  for (let i = 0; ; i += 1) {
    const ns = readNetns(pid);
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // not yet
    }
    if (ns !== undefined && ns !== own && cmdline.startsWith('sleep')) break;
    if (i > 5000) throw new Error(`holder ${pid} did not enter a new netns`);
    await sleep(1);
  }
  const netns = `/proc/${pid}/ns/net`;
  must(runSync(['nsenter', `--net=${netns}`, '--', 'ip', 'link', 'set', 'lo', 'up'], env), 'ip link set lo up');
  return { pid, netns, exited };
}

async function stopHolder(holder: Holder): Promise<void> {
  try {
    process.kill(holder.pid, 'SIGKILL');
  } catch {
    // gone
  }
  await holder.exited;
}

/**
 * One floor cycle: ADD over the chain in order (each result is the next
 * plugin's prevResult), then DEL in reverse with the final result, as the
 * agent's runtime does, with nothing else timed. The stdin documents are
 * prepared before the clock starts; only the prevResult is spliced in.
 */
function floorCycle(req: CyclesRequest, id: string, netns: string): { total: number; add: number[]; del: number[] } {
  const { network } = req;
  const paths = network.plugins.map((p) => `${req.pluginDir}/${p.type}`);
  // The document without its closing brace: `,"prevResult":...}` is appended.
  const open = network.plugins.map((p) => JSON.stringify({ ...p, name: network.name, cniVersion: network.cniVersion }).slice(0, -1));
  const base: Record<string, string> = {
    ...req.env,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${id}`,
    CNI_PATH: req.pluginDir,
  };
  const addEnv = { ...base, CNI_COMMAND: 'ADD' };
  const delEnv = { ...base, CNI_COMMAND: 'DEL' };
  const add: number[] = [];
  const del: number[] = [];
  const start = nowMs();
  let prev: string | undefined;
  for (let i = 0; i < paths.length; i += 1) {
    const stdin = prev === undefined ? `${open[i]}}` : `${open[i]},"prevResult":${prev}}`;
    const r = must(runSync([paths[i]!], addEnv, stdin), `floor ADD ${network.plugins[i]!.type}`);
    add.push(r.ms);
    prev = r.stdout;
  }
  for (let i = paths.length - 1; i >= 0; i -= 1) {
    const r = must(runSync([paths[i]!], delEnv, `${open[i]},"prevResult":${prev}}`), `floor DEL ${network.plugins[i]!.type}`);
    del.unshift(r.ms);
  }
  return { total: nowMs() - start, add, del };
}

async function cycles(req: CyclesRequest): Promise<unknown> {
  const floor: Array<{ total: number; add: number[]; del: number[] }> = [];
  const agent: Array<{ alloc: number; dealloc: number; total: number }> = [];
  const network = req.network.name;
  const doFloor = async (i: number) => {
    const holder = await startHolder(req.env, req.marker);
    try {
      const r = floorCycle(req, `${req.idPrefix}f${i}`, holder.netns);
      if (i >= req.warmup) floor.push(r);
    } finally {
      await stopHolder(holder);
    }
  };
  const doAgent = (i: number) => {
    const id = `${req.idPrefix}a${i}`;
    const a = must(runSync([req.agent, 'alloc', id, network, id], req.env), `agent alloc ${id}`);
    const d = must(runSync([req.agent, 'dealloc', id, network], req.env), `agent dealloc ${id}`);
    if (i >= req.warmup) agent.push({ alloc: a.ms, dealloc: d.ms, total: a.ms + d.ms });
  };
  for (let i = 0; i < req.warmup + req.cycles; i += 1) {
    // Alternate which goes first, so neither always follows the other.
    if (i % 2 === 0) {
      await doFloor(i);
      doAgent(i);
    } else {
      doAgent(i);
      await doFloor(i);
    }
  }
  return { floor, agent };
}

async function probes(req: ProbesRequest): Promise<unknown> {
  const version: number[] = [];
  const list: number[] = [];
  const holder: number[] = [];
  const bare: number[] = [];
  const setpriv: number[] = [];
  for (let i = 0; i < req.runs + 2; i += 1) {
    const v = must(runSync([req.agent, 'version'], req.env), 'agent version');
    const l = must(runSync([req.agent, 'is-idle'], req.env), 'agent is-idle');
    const start = nowMs();
    const h = await startHolder(req.env, req.marker);
    const hMs = nowMs() - start;
    await stopHolder(h);
    const b = must(runSync(['/bin/true'], req.env), 'true');
    const s = must(runSync(['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', '/bin/true'], req.env), 'setpriv true');
    if (i < 2) continue;
    version.push(v.ms);
    list.push(l.ms);
    holder.push(hMs);
    bare.push(b.ms);
    setpriv.push(s.ms);
  }
  return { version, list, holder, bare, setpriv };
}

async function main(): Promise<void> {
  const req = JSON.parse(readFileSync(0, 'utf8')) as Request;
  let answer: unknown;
  switch (req.mode) {
    case 'seq':
      answer = req.steps.map((s) => runSync(s.argv, req.env, s.input ?? ''));
      break;
    case 'par': {
      const start = nowMs();
      const results = await Promise.all(req.steps.map((s) => runAsync(s.argv, req.env, s.input ?? '')));
      answer = { wallMs: nowMs() - start, results };
      break;
    }
    case 'cycles':
      answer = await cycles(req);
      break;
    case 'probes':
      answer = await probes(req);
      break;
    default:
      throw new Error(`unknown mode ${JSON.stringify((req as { mode: unknown }).mode)}`);
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`driver: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
