import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROTOCOL_VERSION } from '../../common/src/version.js';
import { defaultImage } from '../../host/src/config.js';
import { HOLDER_MARKER_VARIABLE } from '../../common/src/holder-identity.js';
import { agentExecutable, hostShim, projectRoot } from '../helpers/paths.js';
import {
  asUser,
  type E2eUser,
  lookupUser,
  processesOf,
  userPodman,
  waitUntilNone,
  withoutWarnings,
} from '../helpers/podman.js';
import { isAlive } from '../helpers/processes.js';
import { commandExists, isRoot, testWhen } from '../helpers/requirements.js';
import { type RunResult, run } from '../helpers/run.js';

/*
 * End to end, with real rootless podman: a non-root user (scripts/e2e-user.sh),
 * the infra image built into its storage (scripts/build-image.sh), the host
 * shim run as that user. Workloads join the allocated namespaces with
 * `podman run --network ns:/proc/PID/ns/net`, talk to each other over the
 * bridge inside the infra container, resolve each other through dnsname, and
 * reach a server on the host's loopback through slirp4netns (10.0.2.2).
 * Everything runs inside that user's rootless podman: no host interface or
 * firewall rule is touched. Traffic goes only to 127.0.0.1 and to namespaces
 * created here.
 */

const USER = process.env['RCNI_E2E_USER'] || 'rcni-e2e';
const INFRA = 'rootless-cni-infra';
const IMAGE = defaultImage();
const NETWORK = 'e2enet';
const WORKLOAD_PREFIX = 'rcni-e2e-w';
const CONFLIST = `${NETWORK}.conflist`;

const missing = [
  ...(isRoot ? [] : ['root']),
  ...['/usr/bin/podman', '/usr/bin/slirp4netns', '/usr/sbin/runuser', '/usr/bin/newuidmap'].filter((p) => !commandExists(p)),
  ...(existsSync(agentExecutable) && existsSync(hostShim) ? [] : ['`make build` (dist/)']),
];
const e2e = testWhen(missing, 'rootless podman end-to-end tests');

interface Ctx {
  user: E2eUser;
  /** A copy of dist/rootless-cni the user can read, whatever the project tree's modes. */
  shim: string;
  shimDir: string;
  server: Server;
  port: number;
  token: string;
}
let ctx: Ctx | undefined;

function conflist(): unknown {
  return {
    cniVersion: '0.4.0',
    name: NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni-e2e0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', backend: '' },
      { type: 'tuning' },
      { type: 'dnsname', domainName: 'dns.podman', capabilities: { aliases: true } },
    ],
  };
}

function mustRun(result: RunResult, what: string): string {
  if (result.code !== 0) throw new Error(`${what} failed with exit code ${result.code}: ${withoutWarnings(result.stderr)}`);
  return result.stdout;
}

async function rootScript(args: string[], timeoutMs: number): Promise<void> {
  const [script, ...rest] = args;
  mustRun(await run(join(projectRoot, script!), rest, { timeoutMs, env: { ...process.env, NODE_OPTIONS: '' } }), args.join(' '));
}

function shim(c: Ctx, args: string[]): Promise<RunResult> {
  return asUser(c.user, [c.shim, ...args], { timeoutMs: 120_000 });
}

/** Runs the shim as the user; returns its JSON and how long it took (ms). */
async function shimJson(t: ExecutionContext, c: Ctx, args: string[]): Promise<{ out: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const result = await shim(c, args);
  const ms = performance.now() - started;
  t.is(result.code, 0, `rootless-cni ${args.join(' ')}: ${result.stderr}`);
  if (result.code !== 0) throw new Error(`rootless-cni ${args.join(' ')} failed: ${result.stderr}`);
  return { out: JSON.parse(result.stdout) as Record<string, unknown>, ms };
}

function podman(c: Ctx, args: string[]): Promise<string> {
  return userPodman(c.user, args);
}

/** Removes whatever a run (this one or an interrupted earlier one) left: workloads, the infra container, holders. */
async function cleanUp(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  const workloads = (await asUser(c.user, ['podman', 'ps', '-a', '--format', '{{.Names}}'])).stdout
    .split('\n')
    .filter((n) => n.startsWith(WORKLOAD_PREFIX));
  if (workloads.length > 0) {
    const rm = await asUser(c.user, ['podman', 'rm', '-f', ...workloads]);
    if (rm.code !== 0) problems.push(`podman rm -f ${workloads.join(' ')}: ${withoutWarnings(rm.stderr)}`);
  }
  const rm = await shim(c, ['rm', '--force']);
  if (rm.code !== 0) {
    problems.push(`rootless-cni rm --force: ${rm.stderr}`);
    await asUser(c.user, ['podman', 'rm', '-f', INFRA]);
  }
  // Last resort, should the shim have failed: holders this user's agents started.
  for (const p of holdersOf(c.user)) {
    problems.push(`killed a leftover holder ${p}`);
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return problems;
}

function holdersOf(user: E2eUser): number[] {
  return processesOf(user.uid)
    .filter((p) => p.environ.some((e) => e.startsWith(`${HOLDER_MARKER_VARIABLE}=`)))
    .map((p) => p.pid);
}

interface Allocation {
  ns: string;
  ip: string;
  nameservers: string[];
}

function allocation(out: Record<string, unknown>): Allocation {
  const result = out['result'] as { ips?: Array<{ address: string }>; dns?: { nameservers?: string[] } };
  return {
    ns: out['ns'] as string,
    ip: (result.ips?.[0]?.address ?? '').split('/')[0]!,
    nameservers: result.dns?.nameservers ?? [],
  };
}

test.before(async () => {
  if (missing.length > 0) return;
  await rootScript(['scripts/e2e-user.sh', USER], 120_000);
  await rootScript(['scripts/build-image.sh', '--user', USER, '--protocol-version', PROTOCOL_VERSION], 600_000);
  const user = lookupUser(USER);
  if (user === undefined) throw new Error(`scripts/e2e-user.sh did not create ${USER}`);

  const shimDir = mkdtempSync(join(tmpdir(), 'rci-e2e-shim-'));
  chmodSync(shimDir, 0o755);
  const shimPath = join(shimDir, 'rootless-cni');
  copyFileSync(hostShim, shimPath);
  copyFileSync(join(projectRoot, 'dist', 'package.json'), join(shimDir, 'package.json'));
  chmodSync(shimPath, 0o755);

  const token = randomBytes(8).toString('hex');
  const server = createServer((socket) => socket.end(`${token}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  ctx = { user, shim: shimPath, shimDir, server, port, token };

  await cleanUp(ctx);
  // Written as the user: root never follows links the user controls.
  const path = join(user.home, '.config', 'cni', 'net.d', CONFLIST);
  mustRun(
    await asUser(user, ['sh', '-c', 'umask 022 && mkdir -p "$(dirname "$1")" && cat >"$1"', 'sh', path], {
      input: JSON.stringify(conflist(), null, 2),
    }),
    `writing ${path}`,
  );
});

test.after.always(async () => {
  if (ctx === undefined) return;
  const c = ctx;
  const problems = await cleanUp(c);
  await asUser(c.user, ['rm', '-f', join(c.user.home, '.config', 'cni', 'net.d', CONFLIST)]);
  c.server.close();
  rmSync(c.shimDir, { recursive: true, force: true });
  if (problems.length > 0) process.stderr.write(`e2e clean-up: ${problems.join('\n')}\n`);
});

e2e.serial('two workloads on a dnsname bridge and one on the default network, then everything goes away', async (t) => {
  const c = ctx!;
  const before = await shimJson(t, c, ['status']);
  t.like(before.out, { present: false, running: false });

  // Allocation: the first creates the infra container.
  const first = await shimJson(t, c, ['alloc', 'e2e-a', NETWORK, '--alias', 'web']);
  const warm = await shimJson(t, c, ['alloc', 'e2e-b', NETWORK]);
  const dflt = await shimJson(t, c, ['alloc', 'e2e-c', 'podman']);
  const a = allocation(first.out);
  const b = allocation(warm.out);
  const d = allocation(dflt.out);
  for (const x of [a, b, d]) t.regex(x.ns, /^\/proc\/\d+\/ns\/net$/);
  t.regex(a.ip, /^10\.89\.0\.\d+$/);
  t.regex(b.ip, /^10\.89\.0\.\d+$/);
  t.not(a.ip, b.ip);
  t.regex(d.ip, /^10\.88\.\d+\.\d+$/);
  t.deepEqual(a.nameservers, ['10.89.0.1'], 'dnsname answers at the bridge gateway');

  const status = await shimJson(t, c, ['status']);
  t.like(status.out, { present: true, running: true, protocolVersion: '7', compatible: true, image: IMAGE });
  const listed = status.out['allocations'] as Array<{ container: string; alive: boolean }>;
  t.deepEqual(listed.map((x) => [x.container, x.alive]).sort(), [['e2e-a', true], ['e2e-b', true], ['e2e-c', true]]);
  const [infraId, sandboxKey] = (await podman(c, ['inspect', '--format', '{{.Id}} {{.NetworkSettings.SandboxKey}}', INFRA])).trim().split(' ');
  t.regex(infraId!, /^[0-9a-f]{64}$/);
  t.regex(sandboxKey!, /^\/.*netns/, 'the infra container has its own network namespace (slirp4netns)');
  const holderPids = [a, b, d].map((x) => Number(/\d+/.exec(x.ns)![0]));
  t.true(holderPids.every(isAlive));
  const netnsPath = await shimJson(t, c, ['print-netns-path', 'e2e-a']);
  t.deepEqual(netnsPath.out, { path: a.ns });

  // Workloads: A serves TCP (dnsmasq is the one listener the image has), B is a client.
  const started = performance.now();
  await podman(c, [
    'run', '-d', '--name', `${WORKLOAD_PREFIX}a`, '--network', `ns:${a.ns}`, '--dns', a.nameservers[0]!, IMAGE,
    'dnsmasq', '--keep-in-foreground', '--port=8053', '--no-resolv', '--no-hosts', '--user=root', '--log-facility=-',
  ]);
  await podman(c, [
    'run', '-d', '--name', `${WORKLOAD_PREFIX}b`, '--network', `ns:${b.ns}`, '--dns', b.nameservers[0]!,
    '--dns-search', 'dns.podman', IMAGE, 'sleep', 'infinity',
  ]);
  const probe = [
    'r() { local ip; read -r ip _ < <(getent hosts "$1"); echo "$1=${ip:-none}"; }',
    'r web; r e2e-a; r web.dns.podman',
    `for i in $(seq 50); do if (: <>/dev/tcp/${a.ip}/8053) 2>/dev/null; then echo peer=ok; break; fi; sleep 0.1; done`,
    `exec 4<>/dev/tcp/10.0.2.2/${c.port} && read -r line <&4 && echo "host=$line"`,
    'read -r _ _ _ ip _ < <(ip -4 -o addr show dev eth0); echo "self=${ip%/*}"',
  ].join('\n');
  const fromB = await podman(c, ['exec', `${WORKLOAD_PREFIX}b`, 'bash', '-c', probe]);
  const fromDefault = await podman(c, [
    'run', '--rm', '--network', `ns:${d.ns}`, IMAGE, 'bash', '-c',
    `exec 4<>/dev/tcp/10.0.2.2/${c.port} && read -r line <&4 && echo "host=$line"`,
  ]);
  t.log(`workloads started and probed in ${(performance.now() - started).toFixed(0)} ms`);
  const lines = new Map(fromB.trim().split('\n').map((l) => l.split('=') as [string, string]));
  t.is(lines.get('web'), a.ip, 'the alias resolves through dnsname');
  t.is(lines.get('e2e-a'), a.ip, 'the pod name resolves through dnsname');
  t.is(lines.get('web.dns.podman'), a.ip);
  t.is(lines.get('peer'), 'ok', 'B reaches A over the bridge');
  t.is(lines.get('host'), c.token, "B reaches the host's loopback through slirp4netns");
  t.is(lines.get('self'), b.ip, 'B sits in the namespace allocated for it');
  t.is(fromDefault.trim(), `host=${c.token}`, 'the default network reaches the host too');

  // Teardown: workloads, then deallocation; the last one removes the infra container.
  await podman(c, ['rm', '-f', `${WORKLOAD_PREFIX}a`, `${WORKLOAD_PREFIX}b`]);
  const deallocA = await shimJson(t, c, ['dealloc', 'e2e-a', NETWORK]);
  t.deepEqual(deallocA.out, {});
  const inside = await podman(c, [
    'exec', INFRA, 'bash', '-c', `ls /var/lib/cni/networks/${NETWORK}; ip -o link show type veth | wc -l`,
  ]);
  t.false(inside.split('\n').includes(a.ip), `A's IPAM reservation is released:\n${inside}`);
  t.true(inside.split('\n').includes(b.ip), `B's is kept:\n${inside}`);
  t.is(inside.trim().split('\n').at(-1), '2', 'one veth per remaining allocation');
  t.false(isAlive(holderPids[0]!), "A's holder is gone");
  const again = await shimJson(t, c, ['dealloc', 'e2e-a', NETWORK]);
  t.deepEqual(again.out, {}, 'dealloc is idempotent');
  await shimJson(t, c, ['dealloc', 'e2e-b', NETWORK]);
  const last = await shimJson(t, c, ['dealloc', 'e2e-c', 'podman']);
  t.deepEqual(last.out, { infraRemoved: true });

  const after = await shimJson(t, c, ['status']);
  t.like(after.out, { present: false });
  t.is((await podman(c, ['ps', '-a', '--filter', `name=^${INFRA}$`, '--format', '{{.Names}}'])).trim(), '');
  const leftovers = await waitUntilNone(
    () =>
      processesOf(c.user.uid)
        .filter(
          (p) =>
            holderPids.includes(p.pid) ||
            p.environ.some((e) => e.startsWith(`${HOLDER_MARKER_VARIABLE}=`)) ||
            p.argv.some((arg) => arg.includes(infraId!) || arg === sandboxKey || arg.includes(`dnsname/${NETWORK}`)),
        )
        .map((p) => `${p.pid}: ${p.argv.join(' ')}`),
    5_000,
  );
  t.deepEqual(leftovers, [], 'no holder, conmon, slirp4netns or dnsmasq of the infra container is left');

  t.log(`first alloc (infra container created): ${first.ms.toFixed(0)} ms`);
  t.log(`warm alloc: ${warm.ms.toFixed(0)} ms (default network: ${dflt.ms.toFixed(0)} ms)`);
  t.log(`dealloc: ${deallocA.ms.toFixed(0)} ms (already deallocated: ${again.ms.toFixed(0)} ms)`);
  t.log(`last dealloc, infra container removed: ${last.ms.toFixed(0)} ms`);
  t.log(`status: ${status.ms.toFixed(0)} ms; print-netns-path: ${netnsPath.ms.toFixed(0)} ms`);
});

e2e.serial('10 concurrent allocs share one infra container; 10 concurrent deallocs remove it once', async (t) => {
  const c = ctx!;
  const ids = Array.from({ length: 10 }, (_, i) => `e2e-p${i}`);
  const allocs = await Promise.all(ids.map((id) => shimJson(t, c, ['alloc', id, NETWORK])));
  const ips = allocs.map((x) => allocation(x.out).ip);
  t.is(new Set(ips).size, 10, `distinct addresses: ${ips.join(' ')}`);
  const running = (await podman(c, ['ps', '-a', '--filter', `name=^${INFRA}$`, '--format', '{{.Names}}'])).trim();
  t.is(running, INFRA, 'one infra container');
  const deallocs = await Promise.all(ids.map((id) => shimJson(t, c, ['dealloc', id, NETWORK])));
  t.is(deallocs.filter((x) => x.out['infraRemoved'] === true).length, 1);
  t.is((await podman(c, ['ps', '-a', '--filter', `name=^${INFRA}$`, '--format', '{{.Names}}'])).trim(), '');
  t.deepEqual(holdersOf(c.user), []);
});

e2e.serial('another protocol version is refused and rm removes it; a stopped infra container is replaced', async (t) => {
  const c = ctx!;
  const old = ['run', '-d', '--name', INFRA, '--pid=host', '--label', 'io.github.rootless-cni-infra.protocol-version=6', IMAGE];
  await podman(c, old);
  const refused = await shim(c, ['alloc', 'e2e-old', NETWORK]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^Error: the infra container rootless-cni-infra speaks protocol version 6, but this rootless-cni speaks 7/);
  t.is((await podman(c, ['inspect', '--format', '{{.State.Status}}', INFRA])).trim(), 'running', 'left untouched');
  const removed = await shimJson(t, c, ['rm']);
  t.like(removed.out, { removed: true });
  t.is((await podman(c, ['ps', '-a', '--filter', `name=^${INFRA}$`, '--format', '{{.Names}}'])).trim(), '');

  // A stopped one (whatever its version: its holders died with it) is replaced.
  await podman(c, old);
  await podman(c, ['stop', INFRA]);
  const replaced = await shimJson(t, c, ['alloc', 'e2e-new', NETWORK]);
  t.regex(allocation(replaced.out).ip, /^10\.89\.0\.\d+$/);
  const label = await podman(c, ['inspect', '--format', '{{index .Config.Labels "io.github.rootless-cni-infra.protocol-version"}} {{.State.Status}}', INFRA]);
  t.is(label.trim(), '7 running');
  const last = await shimJson(t, c, ['dealloc', 'e2e-new', NETWORK]);
  t.deepEqual(last.out, { infraRemoved: true });
  t.log(`alloc replacing a stopped infra container: ${replaced.ms.toFixed(0)} ms`);

  // Removed behind the shim's back while holding namespaces: rootless podman
  // rm leaves the holders; the next alloc says so, stops them and recreates.
  await shimJson(t, c, ['alloc', 'e2e-x', NETWORK]);
  await shimJson(t, c, ['alloc', 'e2e-y', NETWORK]);
  const leaked = holdersOf(c.user);
  t.is(leaked.length, 2);
  const oldDnsmasq = processesOf(c.user.uid).filter((p) => p.argv.some((a) => a.includes(`dnsname/${NETWORK}`))).map((p) => p.pid);
  await podman(c, ['rm', '-f', INFRA]);
  t.deepEqual(holdersOf(c.user).sort(), leaked.sort(), 'podman rm left the holders running');
  const recreated = await shim(c, ['alloc', 'e2e-x', NETWORK]);
  t.is(recreated.code, 0, recreated.stderr);
  t.regex(recreated.stderr, /Warning: the infra container rootless-cni-infra was removed while it held 2 network namespace\(s\); their holders were stopped, with 1 process\(es\) left in its network namespace/);
  t.true(oldDnsmasq.length > 0 && oldDnsmasq.every((pid) => !isAlive(pid)), 'the old infra container\'s dnsmasq was stopped');
  const now = holdersOf(c.user);
  t.is(now.length, 1);
  t.false(leaked.includes(now[0]!), 'the old holders are gone, one new one');
  t.deepEqual((await shimJson(t, c, ['dealloc', 'e2e-x', NETWORK])).out, { infraRemoved: true });
  t.deepEqual(holdersOf(c.user), []);
});
