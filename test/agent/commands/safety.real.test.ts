import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { TestInfra } from '../../helpers/infra.js';
import { bridgeNetwork } from '../../helpers/networks.js';
import { isAlive } from '../../helpers/processes.js';
import { realTest as test } from '../../helpers/root-requirements.js';
import { parseJson } from '../../helpers/run.js';

async function withInfra(t: ExecutionContext, fn: (infra: TestInfra) => Promise<void>): Promise<void> {
  const infra = await TestInfra.start();
  t.teardown(() => infra.stop());
  await fn(infra);
}

function stateFiles(infra: TestInfra): string {
  return infra.execOk(['find', '/run/rootless-cni-infra', '/var/lib/cni', '-not', '-path', '*/.locks*', '-type', 'f']);
}

async function assertClean(t: ExecutionContext, infra: TestInfra, network: string): Promise<void> {
  const idle = await infra.agent(['is-idle']);
  t.deepEqual(parseJson(idle), { idle: true });
  t.deepEqual(infra.holders(), [], 'no holder');
  t.deepEqual(infra.links().filter((l) => l.startsWith('veth')), [], 'no veth');
  t.deepEqual(infra.ipamReservations(network), [], 'no IPAM reservation');
  t.deepEqual(stateFiles(infra).split('\n').filter((f) => f !== '' && !f.includes('/networks/')), [], 'no state or cache file');
}

test('30 parallel allocs get distinct IPs; 30 parallel deallocs leave the infra idle and clean', async (t) => {
  await withInfra(t, async (infra) => {
    infra.writeConf('net.conflist', bridgeNetwork('par', 'cni-par0', '10.66.0.0/24', '10.66.0.1'));
    const ids = Array.from({ length: 30 }, (_, i) => `par-${i}`);
    const allocs = await Promise.all(ids.map((id) => infra.agent(['alloc', id, 'par', id, '', '', '', '--print-result'])));
    for (const r of allocs) t.is(r.code, 0, r.stderr);
    const addresses = allocs.map((r) => ((parseJson(r) as { result: { ips: Array<{ address: string }> } }).result.ips[0]!.address));
    t.is(new Set(addresses).size, 30, 'distinct IPs');
    t.is(new Set(allocs.map((r) => (parseJson(r) as { ns: string }).ns)).size, 30, 'distinct namespaces');
    t.deepEqual(parseJson(await infra.agent(['is-idle'])), { idle: false });
    const deallocs = await Promise.all(ids.map((id) => infra.agent(['dealloc', id, 'par'])));
    for (const r of deallocs) t.is(r.code, 0, r.stderr);
    await assertClean(t, infra, 'par');
  });
});

test('parallel allocs of one container on several networks get distinct interface names', async (t) => {
  await withInfra(t, async (infra) => {
    const nets = ['n0', 'n1', 'n2', 'n3', 'n4'];
    nets.forEach((n, i) => infra.writeConf(`${n}.conflist`, bridgeNetwork(n, `cni-${n}`, `10.65.${i}.0/24`, `10.65.${i}.1`)));
    const allocs = await Promise.all(nets.map((n) => infra.agent(['alloc', 'multi', n, 'multi'])));
    for (const r of allocs) t.is(r.code, 0, r.stderr);
    t.is(new Set(allocs.map((r) => r.stdout)).size, 1, 'one netns');
    const listed = parseJson(await infra.agent(['list'])) as { allocations: Array<{ networks: Array<{ interface: string }> }> };
    t.deepEqual(listed.allocations[0]!.networks.map((n) => n.interface).sort(), ['eth0', 'eth1', 'eth2', 'eth3', 'eth4']);
    const deallocs = await Promise.all(nets.map((n) => infra.agent(['dealloc', 'multi', n])));
    for (const r of deallocs) t.is(r.code, 0, r.stderr);
    await assertClean(t, infra, 'n0');
  });
});

test('a plugin failing mid-chain leaves nothing behind, and the infra is idle again', async (t) => {
  await withInfra(t, async (infra) => {
    const failing = bridgeNetwork('fail', 'cni-fail0', '10.64.0.0/24', '10.64.0.1');
    // tuning fails after bridge and host-local have made the veth and reserved an address.
    (failing['plugins'] as Array<Record<string, unknown>>)[3] = { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.no_such_sysctl': '1' } };
    infra.writeConf('fail.conflist', failing);
    infra.writeConf('good.conflist', bridgeNetwork('good', 'cni-good0', '10.64.1.0/24', '10.64.1.1'));
    const result = await infra.agent(['alloc', 'doomed', 'fail', 'p']);
    t.is(result.code, 1);
    t.regex(result.stderr, /^Error: plugin "tuning" failed ADD for network "fail": .*no_such_sysctl/);
    t.is(result.stdout, '');
    await assertClean(t, infra, 'fail');
    // An allocation on another network is kept when the failing one is attempted for the same container.
    t.is((await infra.agent(['alloc', 'keeper', 'good', 'p'])).code, 0);
    t.is((await infra.agent(['alloc', 'keeper', 'fail', 'p'])).code, 1);
    t.deepEqual(parseJson(await infra.agent(['is-idle'])), { idle: false });
    const listed = parseJson(await infra.agent(['list'])) as { allocations: Array<{ networks: Array<{ network: string }> }> };
    t.deepEqual(listed.allocations[0]!.networks.map((n) => n.network), ['good']);
    t.deepEqual(infra.ipamReservations('fail'), [], 'the failed attempt released its address');
    t.is((await infra.agent(['dealloc', 'keeper', 'good'])).code, 0);
    await assertClean(t, infra, 'good');
  });
});

test('alloc of a network already attached is refused and changes nothing', async (t) => {
  await withInfra(t, async (infra) => {
    const first = await infra.agent(['alloc', 'dup', 'podman', 'p']);
    const before = stateFiles(infra);
    const again = await infra.agent(['alloc', 'dup', 'podman', 'p']);
    t.is(again.code, 1);
    t.is(again.stderr, 'Error: container "dup" is already attached to network "podman"\n');
    t.is(stateFiles(infra), before);
    t.is((await infra.agent(['print-netns-path', 'dup'])).stdout, `{"path":"${(parseJson(first) as { ns: string }).ns}"}\n`);
    await infra.agent(['dealloc', 'dup', 'podman']);
    await assertClean(t, infra, 'podman');
  });
});

test('hostile input is refused before it touches anything', async (t) => {
  await withInfra(t, async (infra) => {
    const cases: Array<[string[], RegExp, string?]> = [
      [['alloc', '../x', 'podman', 'p'], /invalid container ID "..\/x"/],
      [['alloc', 'a/b', 'podman', 'p'], /invalid container ID "a\/b"/],
      [['alloc', '', 'podman', 'p'], /invalid container ID "": must not be empty/],
      [['alloc', 'x'.repeat(129), 'podman', 'p'], /longer than 128/],
      [['alloc', 'c', '../podman', 'p'], /invalid network name/],
      [['alloc', 'c', 'podman', 'p;IP=10.88.0.9'], /invalid pod name/],
      [['alloc', 'c', 'podman', 'p', '10.88.0.9;MAC=x'], /invalid IP address/],
      [['alloc', 'c', 'podman', 'p', '', 'aa:bb=cc'], /invalid MAC address/],
      [['alloc', 'c', 'podman', 'p', '', '', '{"portMappings":'], /invalid CAP_ARGS: not JSON/],
      [['alloc', 'c', 'podman', 'p', '', '', '[1,2]'], /invalid CAP_ARGS: must be a JSON object/],
      [['alloc', 'c', 'podman', 'p', '--ifname', 'eth0/x'], /invalid interface name/],
      [['alloc', 'c', 'podman', 'p', '--ifname', 'a'.repeat(16)], /invalid interface name/],
      [['alloc', 'c', 'podman', 'p', '--ifname', '..'], /invalid interface name/],
      [['alloc', 'c', 'podman', 'p', '--ifname', 'e th'], /invalid interface name/],
      [['alloc'], /invalid request on stdin: not JSON/, '{"ID":'],
      [['alloc'], /"ID" must be a string/, '{"ID":5,"Network":"podman"}'],
      [['alloc'], /"Network" is missing/, '{"ID":"c"}'],
      [['alloc'], /invalid interface name/, '{"ID":"c","Network":"podman","InterfaceName":":"}'],
      [['alloc'], /"NetConfPath" must be an absolute path/, '{"ID":"c","Network":"podman","NetConfPath":"rel"}'],
      [['alloc'], /"Aliases" must be/, '{"ID":"c","Network":"podman","Aliases":"x"}'],
      [['alloc'], /no JSON request on stdin/, ''],
      [['dealloc', '../../etc', 'podman'], /invalid container ID/],
      [['print-cni-result', 'c', '../x'], /invalid network name/],
      [['alloc', 'c', 'no-such-net', 'p'], /network "no-such-net" not found in/],
    ];
    for (const [args, message, input] of cases) {
      const result = await infra.agent(args, input === undefined ? {} : { input });
      t.not(result.code, 0, args.join(' '));
      t.regex(result.stderr, /^Error: /, args.join(' '));
      t.regex(result.stderr, message, args.join(' '));
      t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
      t.is(result.stdout, '');
    }
    await assertClean(t, infra, 'podman');
  });
});

test('a recorded PID that is not our holder any more is never used or killed', async (t) => {
  await withInfra(t, async (infra) => {
    const alloc = parseJson(await infra.agent(['alloc', 'reuse', 'podman', 'p'])) as { ns: string };
    const holderPid = Number(/\/proc\/([0-9]+)\//.exec(alloc.ns)![1]);
    // The holder dies, and its record is pointed at a process we own that looks like a holder.
    process.kill(holderPid, 'SIGKILL');
    const impostor = spawn('sleep', ['infinity'], { stdio: 'ignore' });
    t.teardown(() => impostor.kill('SIGKILL'));
    const record = JSON.parse(infra.execOk(['cat', '/run/rootless-cni-infra/reuse/holder'])) as { startTime: string };
    infra.execOk(['sh', '-c', `echo '{"pid":${impostor.pid},"startTime":"${record.startTime}"}' > /run/rootless-cni-infra/reuse/holder`]);
    const path = await infra.agent(['print-netns-path', 'reuse']);
    t.is(path.code, 1);
    t.regex(path.stderr, /network namespace of container "reuse" is gone/);
    t.deepEqual(parseJson(await infra.agent(['is-idle'])), { idle: true }, 'a dead holder is not a live allocation');
    const dealloc = await infra.agent(['dealloc', 'reuse', 'podman']);
    t.is(dealloc.code, 0, dealloc.stderr);
    t.true(isAlive(impostor.pid!), 'the impostor was not killed');
    await assertClean(t, infra, 'podman');
  });
});

test('an agent killed mid-alloc is cleaned up by gc, and the container can be allocated again', async (t) => {
  await withInfra(t, async (infra) => {
    infra.writeConf('net.conflist', bridgeNetwork('crash', 'cni-crash0', '10.63.0.0/24', '10.63.0.1'));
    for (let round = 0; round < 9; round += 1) {
      const child = spawn('nsenter', ['-t', String(infra.pid), '--mount', '--net', '--', (await import('../../helpers/paths.js')).agentExecutable, 'alloc', 'victim', 'crash', 'p'], {
        stdio: 'ignore',
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: '/usr/lib/cni', NETCONFPATH: infra.confDir },
      });
      const closed = new Promise((r) => child.once('close', r));
      // Kill it at different points: after 40 to 400 ms.
      await new Promise((r) => setTimeout(r, 40 + 45 * round));
      child.kill('SIGKILL');
      await closed;
      const gc = await infra.agent(['gc']);
      t.is(gc.code, 0, gc.stderr);
      // Killed before its result was recorded: gc removed everything. Killed
      // after: a complete, working allocation, which dealloc removes.
      const listed = parseJson(await infra.agent(['list'])) as { allocations: Array<{ alive: boolean; networks: Array<{ complete: boolean }> }> };
      if (listed.allocations.length > 0) {
        t.true(listed.allocations[0]!.alive && listed.allocations[0]!.networks.every((n) => n.complete), JSON.stringify(listed));
        t.is((await infra.agent(['dealloc', 'victim', 'crash'])).code, 0);
      }
      await assertClean(t, infra, 'crash');
      const again = await infra.agent(['alloc', 'victim', 'crash', 'p']);
      t.is(again.code, 0, again.stderr);
      await infra.agent(['dealloc', 'victim', 'crash']);
      await assertClean(t, infra, 'crash');
    }
  });
});

test('a holder killed from outside: is-idle, print-netns-path, dealloc and gc behave', async (t) => {
  await withInfra(t, async (infra) => {
    infra.writeConf('net.conflist', bridgeNetwork('outside', 'cni-out0', '10.62.0.0/24', '10.62.0.1'));
    const alloc = parseJson(await infra.agent(['alloc', 'gone', 'outside', 'p'])) as { ns: string };
    await infra.agent(['alloc', 'gone2', 'outside', 'p']);
    process.kill(Number(/\/proc\/([0-9]+)\//.exec(alloc.ns)![1]), 'SIGKILL');
    process.kill(Number(/\/proc\/([0-9]+)\//.exec((parseJson(await infra.agent(['print-netns-path', 'gone2'])) as { path: string }).path)![1]), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    t.deepEqual(parseJson(await infra.agent(['is-idle'])), { idle: true });
    t.is((await infra.agent(['dealloc', 'gone', 'outside'])).code, 0);
    const gc = parseJson(await infra.agent(['gc'])) as { containers: string[]; attachments: unknown[] };
    t.deepEqual(gc.containers, ['gone2']);
    t.is(gc.attachments.length, 1);
    await assertClean(t, infra, 'outside');
  });
});

test('a full state filesystem: alloc fails cleanly at any point, nothing half-written or leaked', async (t) => {
  await withInfra(t, async (infra) => {
    infra.writeConf('net.conflist', bridgeNetwork('full', 'cni-full0', '10.60.0.0/24', '10.60.0.1'));
    const runDir = '/run/rci-tiny';
    infra.execOk(['mkdir', '-p', runDir]);
    let failures = 0;
    // tmpfs charges a page per non-empty file: these sizes run out at different steps.
    for (const pages of [1, 2, 3, 4, 5, 6, 8]) {
      infra.execOk(['mount', '-t', 'tmpfs', '-o', `size=${pages * 4}k`, 'tmpfs', runDir]);
      const env = { ROOTLESS_CNI_INFRA_RUN_DIR: runDir };
      const result = await infra.agent(['alloc', 'tight', 'full', 'p'], { env });
      if (result.code === 0) {
        t.is((await infra.agent(['dealloc', 'tight', 'full'], { env })).code, 0);
      } else {
        failures += 1;
        t.regex(result.stderr, /^Error: .*cannot write \/run\/rci-tiny\/.*ENOSPC: no space left on device/, `${pages} pages`);
        t.notRegex(result.stderr, /\n\s+at /);
        t.is(infra.execOk(['find', runDir, '-type', 'f', '-not', '-name', '*.lock']).trim(), '', `${pages} pages: no state file left`);
      }
      t.deepEqual(infra.holders(), [], `${pages} pages: no holder left`);
      t.deepEqual(infra.ipamReservations('full'), [], `${pages} pages: no address left`);
      t.deepEqual(infra.links().filter((l) => l.startsWith('veth')), [], `${pages} pages: no veth left`);
      infra.execOk(['umount', runDir]);
    }
    t.true(failures >= 2, 'the small sizes did fail');
  });
});

test('an agent killed mid-dealloc is cleaned up by gc or the next dealloc', async (t) => {
  await withInfra(t, async (infra) => {
    infra.writeConf('net.conflist', bridgeNetwork('crashdel', 'cni-crdel0', '10.59.0.0/24', '10.59.0.1'));
    const { agentExecutable } = await import('../../helpers/paths.js');
    for (let round = 0; round < 8; round += 1) {
      const caps = '{"portMappings":[{"hostPort":7070,"containerPort":70,"protocol":"tcp"}]}';
      t.is((await infra.agent(['alloc', 'victim', 'crashdel', 'p', '', '', caps])).code, 0);
      const child = spawn('nsenter', ['-t', String(infra.pid), '--mount', '--net', '--', agentExecutable, 'dealloc', 'victim', 'crashdel'], {
        stdio: 'ignore',
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: '/usr/lib/cni', NETCONFPATH: infra.confDir },
      });
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, 30 + 40 * round));
      child.kill('SIGKILL');
      await closed;
      // Either gc finds the interrupted detach, or the attachment is still
      // whole and a plain dealloc finishes the job.
      const gc = await infra.agent(['gc']);
      t.is(gc.code, 0, gc.stderr);
      const again = await infra.agent(['dealloc', 'victim', 'crashdel']);
      t.is(again.code, 0, again.stderr);
      await assertClean(t, infra, 'crashdel');
      t.notRegex(infra.iptablesRules('nat'), /7070/, 'no portmap rule left');
    }
  });
});
