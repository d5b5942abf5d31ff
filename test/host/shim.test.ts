import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_NS, FAKE_RESULT, FakePodman } from '../helpers/fake-podman.js';
import { parseJson } from '../helpers/run.js';

/*
 * The host shim (dist/rootless-cni) against a fake podman that records its
 * argv: which podman commands each shim command runs, in which order, with
 * which arguments, and how failures come back.
 */

const INFRA = 'rootless-cni-infra';
const EXEC = `exec ${INFRA} rootless-cni-infra`;
const PS = `ps -a --filter name=^${INFRA}$ --format json`;
const RM = `rm -f ${INFRA}`;
/** Every agent command the shim runs for its result carries the protocol handshake. */
const XP = '--expect-protocol=7';
const LABEL = 'io.github.rootless-cni-infra.protocol-version';

function fake(t: { teardown(fn: () => void): void }): FakePodman {
  const podman = new FakePodman();
  t.teardown(() => podman.cleanup());
  return podman;
}

function createArgs(podman: FakePodman, image = 'localhost/rootless-cni-infra:7-amd64', replace = false): string[] {
  return [
    'run',
    '-d',
    '--name',
    INFRA,
    ...(replace ? ['--replace'] : []),
    ...(image.startsWith('localhost/') ? ['--pull=never'] : []),
    '--pid=host',
    '--privileged',
    '--network',
    'slirp4netns:allow_host_loopback=true',
    '-v',
    `${podman.configDir}:/etc/cni/net.d:ro`,
    '--tmpfs',
    '/run',
    '--tmpfs',
    '/var/lib/cni',
    '--label',
    `${LABEL}=7`,
    image,
  ];
}

test('version prints the protocol version the shim speaks, without podman', async (t) => {
  const podman = fake(t);
  const result = await podman.shim(['version']);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), { version: '7', shim: '0.1.0' });
  t.deepEqual(podman.calls(), []);
});

test('an unknown command or option is a usage error', async (t) => {
  const podman = fake(t);
  const unknown = await podman.shim(['frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^Error: unknown command or argument: frobnicate/);
  const option = await podman.shim(['alloc', 'c1', 'net', '--bogus']);
  t.is(option.code, 2);
  t.regex(option.stderr, /^Error: unknown command or argument: bogus/);
  const none = await podman.shim([]);
  t.is(none.code, 2);
  t.regex(none.stderr, /^Error: no command given/);
  t.deepEqual(podman.calls(), []);
});

test('alloc creates a missing infra container, then runs the alloc in it', async (t) => {
  const podman = fake(t);
  t.false(existsSync(podman.configDir));
  const result = await podman.shim(['alloc', 'c1', 'net1']);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), { ns: FAKE_NS, result: FAKE_RESULT });
  t.is(result.stderr, '', 'podman warnings are not passed on');
  const invocations = podman.invocations();
  t.deepEqual(
    invocations.map((i) => i.argv),
    [
      // Tried first (the common case is a running container); podman says there is none.
      ['exec', INFRA, 'rootless-cni-infra', 'alloc', 'c1', 'net1', '--pod-name=c1', '--print-result', XP],
      ['ps', '-a', '--filter', `name=^${INFRA}$`, '--format', 'json'],
      createArgs(podman),
      ['exec', INFRA, 'rootless-cni-infra', 'alloc', 'c1', 'net1', '--pod-name=c1', '--print-result', XP],
    ],
  );
  t.true(statSync(podman.configDir).isDirectory(), 'the config dir is created for the bind mount');
  t.is(podman.state().container?.Labels[LABEL], '7');
});

test('alloc into a running infra container: one podman exec, every option forwarded', async (t) => {
  const podman = fake(t).withRunningInfra();
  const result = await podman.shim([
    'alloc',
    '0123456789',
    'web-net',
    '--pod-name=-pod',
    '--ip',
    '10.89.0.7',
    '--mac',
    '0A:58:0A:59:00:07',
    '--ifname',
    'eth1',
    '--alias',
    'web',
    '--alias',
    'www.example',
  ]);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), { ns: FAKE_NS, result: FAKE_RESULT });
  const calls = podman.invocations().map((i) => i.argv);
  t.is(calls.length, 1, 'one podman call: no ps first');
  t.deepEqual(calls[0], [
    'exec',
    INFRA,
    'rootless-cni-infra',
    'alloc',
    '0123456789',
    'web-net',
    '--pod-name=-pod',
    '--ip=10.89.0.7',
    '--mac=0a:58:0a:59:00:07',
    '--ifname=eth1',
    `--cap-args=${JSON.stringify({ aliases: { 'web-net': ['web', 'www.example'] } })}`,
    '--print-result',
    XP,
  ]);
});

test('alloc replaces a stopped infra container (its holders are gone)', async (t) => {
  const podman = fake(t).withRunningInfra(undefined, 'exited');
  const result = await podman.shim(['alloc', 'c1', 'net1']);
  t.is(result.code, 0, result.stderr);
  const calls = podman.invocations().map((i) => i.argv);
  t.deepEqual(calls[0]!.slice(0, 4), ['exec', INFRA, 'rootless-cni-infra', 'alloc'], 'tried first, refused by podman');
  t.is(calls[1]!.join(' '), PS);
  t.deepEqual(calls[2], createArgs(podman, undefined, true));
  t.is(calls.length, 4);
  t.is(podman.state().container?.State, 'running');
});

test('alloc refuses an infra container of another protocol version and leaves it alone', async (t) => {
  const podman = fake(t).withRunningInfra({ [LABEL]: '6' });
  // An agent of protocol 6 knows no --expect-protocol: its failure makes the shim look at the label.
  podman.setState({ agent: { version: { stdout: '{"version":"6"}' } } });
  const result = await podman.shim(['alloc', 'c1', 'net1']);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.regex(result.stderr, /^Error: the infra container rootless-cni-infra speaks protocol version 6, but this rootless-cni speaks 7/);
  t.regex(result.stderr, /rootless-cni rm/);
  t.deepEqual(podman.calls(), [`${EXEC} alloc c1 net1 --pod-name=c1 --print-result ${XP}`, PS], 'no rm, no run');
  t.is(podman.state().container?.Labels[LABEL], '6');

  const dealloc = await podman.shim(['dealloc', 'c1', 'net1']);
  t.is(dealloc.code, 1);
  t.regex(dealloc.stderr, /protocol version 6/);

  // An agent of a later protocol refuses the handshake itself (exit code 3): no ps needed.
  const newer = fake(t).withRunningInfra({ [LABEL]: '8' });
  newer.setState({ agent: { version: { stdout: '{"version":"8"}' } } });
  const refused = await newer.shim(['alloc', 'c1', 'net1']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^Error: the infra container rootless-cni-infra speaks protocol version 8, but this rootless-cni speaks 7/);
  t.deepEqual(newer.calls(), [`${EXEC} alloc c1 net1 --pod-name=c1 --print-result ${XP}`]);
});

test('without the label, an old agent is recognised by its version', async (t) => {
  const podman = fake(t).withRunningInfra({});
  podman.setState({ agent: { version: { stdout: '{"version":"6"}' } } });
  const refused = await podman.shim(['alloc', 'c1', 'net1']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /protocol version 6/);
  t.deepEqual(podman.calls(), [`${EXEC} alloc c1 net1 --pod-name=c1 --print-result ${XP}`, PS, `${EXEC} version`]);

  podman.clearLog();
  podman.setState({ agent: { version: { stdout: '{"version":"7","agent":"0.1.0"}' } } });
  const accepted = await podman.shim(['alloc', 'c1', 'net1']);
  t.is(accepted.code, 0, accepted.stderr);
  t.deepEqual(podman.calls(), [`${EXEC} alloc c1 net1 --pod-name=c1 --print-result ${XP}`]);
});

test("the agent's error comes back with the podman command that failed", async (t) => {
  const podman = fake(t).withRunningInfra();
  podman.setState({
    agent: { alloc: { code: 1, stderr: 'Error: network "nope" not found in /etc/cni/net.d\n' } },
  });
  const result = await podman.shim(['alloc', 'c1', 'nope']);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.is(
    result.stderr,
    `Error: ${podman.binary} ${EXEC} alloc c1 nope --pod-name=c1 --print-result ${XP} failed with exit code 1: ` +
      'network "nope" not found in /etc/cni/net.d\n',
  );
  t.deepEqual(podman.calls(), [`${EXEC} alloc c1 nope --pod-name=c1 --print-result ${XP}`, PS], 'the container stays');
});

test('an alloc that fails in a container it just created removes that container', async (t) => {
  const podman = fake(t);
  podman.setState({ agent: { alloc: { code: 1, stderr: 'Error: network "nope" not found\n' } } });
  const result = await podman.shim(['alloc', 'c1', 'nope']);
  t.is(result.code, 1);
  t.regex(result.stderr, /network "nope" not found/);
  const calls = podman.calls();
  t.deepEqual(calls.slice(3), [`${EXEC} alloc c1 nope --pod-name=c1 --print-result ${XP}`, `${EXEC} dealloc-all`, RM]);
  t.is(podman.state().container, null);
});

test('podman failures name the podman command and carry its stderr', async (t) => {
  const podman = fake(t);
  podman.setState({
    fail: {
      run: {
        code: 125,
        stderr:
          'time="2024-01-01T00:00:00Z" level=warning msg="\\"/\\" is not a shared mount"\n' +
          'Error: localhost/rootless-cni-infra:7-amd64: image not known\n',
      },
    },
  });
  const result = await podman.shim(['alloc', 'c1', 'net1']);
  t.is(result.code, 1);
  t.true(result.stderr.startsWith(`Error: ${podman.binary} run -d --name rootless-cni-infra --pull=never --pid=host `), result.stderr);
  t.regex(result.stderr, /failed with exit code 125: localhost\/rootless-cni-infra:7-amd64: image not known/);
  t.regex(result.stderr, /make image/);
  t.notRegex(result.stderr, /level=warning/);

  const psFails = fake(t);
  psFails.setState({ fail: { ps: { code: 125, stderr: 'Error: cannot open the database\n' } } });
  const status = await psFails.shim(['status']);
  t.is(status.code, 1);
  t.is(status.stderr, `Error: ${psFails.binary} ${PS} failed with exit code 125: cannot open the database\n`);
});

test('a missing podman binary is a clear error', async (t) => {
  const podman = fake(t);
  const result = await podman.shim(['alloc', 'c1', 'net1'], { PODMAN: join(podman.root, 'no-such-podman') });
  t.is(result.code, 1);
  t.regex(result.stderr, /^Error: cannot run .*no-such-podman: .*ENOENT.*set PODMAN or --podman/);
});

test('podman is found on PATH by default, or given by --podman', async (t) => {
  const podman = fake(t).withRunningInfra();
  const onPath = await podman.shim(['alloc', 'c1', 'net1'], {
    PODMAN: undefined,
    PATH: `${podman.binDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
  });
  t.is(onPath.code, 0, onPath.stderr);
  const flag = await podman.shim(['--podman', podman.binary, 'print-netns-path', 'c1'], { PODMAN: '/nonexistent' });
  t.is(flag.code, 0, flag.stderr);
  t.deepEqual(parseJson(flag), { path: FAKE_NS });
});

test('--image, --config-dir and their variables choose what the container is created from', async (t) => {
  const podman = fake(t);
  const confDir = join(podman.root, 'my-net.d');
  const byEnv = await podman.shim(['alloc', 'c1', 'net1'], {
    ROOTLESS_CNI_INFRA_IMAGE: 'quay.io/example/infra:7',
    ROOTLESS_CNI_CONFIG_DIR: confDir,
  });
  t.is(byEnv.code, 0, byEnv.stderr);
  const run = podman.invocations()[2]!.argv;
  t.is(run.at(-1), 'quay.io/example/infra:7');
  t.false(run.includes('--pull=never'), 'a remote image may be pulled');
  t.true(run.includes(`${confDir}:/etc/cni/net.d:ro`));
  t.true(existsSync(confDir));

  const byFlag = fake(t);
  const result = await byFlag.shim(['alloc', 'c1', 'net1', '--image', 'localhost/other:1', '--config-dir', confDir], {
    ROOTLESS_CNI_INFRA_IMAGE: 'ignored:1',
  });
  t.is(result.code, 0, result.stderr);
  const flagRun = byFlag.invocations()[2]!.argv;
  t.is(flagRun.at(-1), 'localhost/other:1');
  t.true(flagRun.includes(`${confDir}:/etc/cni/net.d:ro`));
});

test('inputs are validated before podman runs', async (t) => {
  const podman = fake(t);
  const cases: Array<[string[], RegExp]> = [
    [['alloc', 'c/1', 'net'], /invalid container ID "c\/1"/],
    [['alloc', 'c1', 'net/../x'], /invalid network name/],
    [['alloc', 'c1', 'net', '--ip', '10.0.0.300'], /invalid IP address "10.0.0.300"/],
    [['alloc', 'c1', 'net', '--mac', 'zz:00:00:00:00:00'], /invalid MAC address/],
    [['alloc', 'c1', 'net', '--ifname', 'a/b'], /invalid interface name/],
    [['alloc', 'c1', 'net', '--pod-name', 'a;IP=1.2.3.4'], /invalid pod name/],
    [['alloc', 'c1', 'net', '--alias', 'bad alias'], /invalid alias "bad alias"/],
    [['alloc', 'c1', 'net', '--ip', '10.0.0.1', '--ip', '10.0.0.2'], /more than once/],
    [['dealloc', 'c1', 'a b'], /invalid network name/],
    [['print-netns-path', '../c1'], /invalid container ID/],
    [['print-cni-result', 'c1', ''], /invalid network name/],
  ];
  for (const [args, message] of cases) {
    const result = await podman.shim(args);
    t.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, /^Error: /);
    t.regex(result.stderr, message, args.join(' '));
    t.is(result.stdout, '');
  }
  t.deepEqual(podman.calls(), [], 'podman never ran');
});

test('dealloc: one exec with --report-idle and the handshake; the container stays while something is allocated', async (t) => {
  const podman = fake(t).withRunningInfra();
  const result = await podman.shim(['dealloc', 'c1', 'net1']);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), {});
  t.deepEqual(podman.calls(), [`${EXEC} dealloc c1 net1 --report-idle ${XP}`]);
  t.not(podman.state().container, null);
});

test('dealloc: when idle, dealloc-all (which kills holders) and only then rm -f', async (t) => {
  const podman = fake(t).withRunningInfra();
  podman.setState({ agent: { dealloc: { stdout: '{"idle":true}' } } });
  const result = await podman.shim(['dealloc', 'c1', 'net1']);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), { infraRemoved: true });
  t.deepEqual(podman.calls(), [`${EXEC} dealloc c1 net1 --report-idle ${XP}`, PS, `${EXEC} dealloc-all`, RM]);
  t.is(podman.state().container, null);
});

test('dealloc without a running infra container is a no-op', async (t) => {
  const podman = fake(t);
  const absent = await podman.shim(['dealloc', 'c1', 'net1']);
  t.is(absent.code, 0, absent.stderr);
  t.deepEqual(parseJson(absent), {});
  t.deepEqual(podman.calls(), [`${EXEC} dealloc c1 net1 --report-idle ${XP}`]);

  const stopped = fake(t).withRunningInfra(undefined, 'exited');
  const result = await stopped.shim(['dealloc', 'c1', 'net1']);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(parseJson(result), {});
  t.deepEqual(stopped.calls(), [`${EXEC} dealloc c1 net1 --report-idle ${XP}`], 'podman refused the exec: nothing else');
});

test('dealloc: a failing dealloc-all keeps the container (its holders would leak)', async (t) => {
  const podman = fake(t).withRunningInfra();
  podman.setState({
    agent: {
      dealloc: { stdout: '{"idle":true}' },
      'dealloc-all': { code: 1, stdout: '{"removed":[],"errors":["c2: kill failed"]}', stderr: 'Error: dealloc-all could not remove everything: c2: kill failed\n' },
    },
  });
  const result = await podman.shim(['dealloc', 'c1', 'net1']);
  t.is(result.code, 1);
  t.true(
    result.stderr.startsWith(`Error: ${podman.binary} ${EXEC} dealloc-all failed with exit code 1: dealloc-all could not remove everything`),
    result.stderr,
  );
  t.regex(result.stderr, /rootless-cni rm --force/);
  t.deepEqual(podman.calls(), [`${EXEC} dealloc c1 net1 --report-idle ${XP}`, PS, `${EXEC} dealloc-all`]);
  t.not(podman.state().container, null);
});

test('print-netns-path and print-cni-result are forwarded and never create the container', async (t) => {
  const podman = fake(t);
  for (const args of [['print-netns-path', 'c1'], ['print-cni-result', 'c1', 'net1']]) {
    const result = await podman.shim(args);
    t.is(result.code, 1);
    t.regex(result.stderr, /^Error: the infra container rootless-cni-infra does not exist/);
  }
  const tried = (cmd: string) => [`${EXEC} ${cmd} ${XP}`, PS];
  t.deepEqual(podman.calls(), [...tried('print-netns-path c1'), ...tried('print-cni-result c1 net1')]);

  const stopped = fake(t).withRunningInfra(undefined, 'exited');
  const notRunning = await stopped.shim(['print-netns-path', 'c1']);
  t.is(notRunning.code, 1);
  t.regex(notRunning.stderr, /is not running \(state exited\)/);

  const running = fake(t).withRunningInfra();
  const path = await running.shim(['print-netns-path', 'c1']);
  t.is(path.code, 0, path.stderr);
  t.deepEqual(parseJson(path), { path: FAKE_NS });
  const cni = await running.shim(['print-cni-result', 'c1', 'net1']);
  t.is(cni.code, 0, cni.stderr);
  t.deepEqual(parseJson(cni), FAKE_RESULT);
  t.deepEqual(running.calls(), [`${EXEC} print-netns-path c1 ${XP}`, `${EXEC} print-cni-result c1 net1 ${XP}`], 'one podman call each');

  running.setState({ agent: { 'print-cni-result': { code: 1, stderr: 'Error: container "c9" is not attached to "net1"\n' } } });
  const missing = await running.shim(['print-cni-result', 'c9', 'net1']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /print-cni-result c9 net1 --expect-protocol=7 failed with exit code 1: container "c9" is not attached to "net1"/);
});

test('status describes the infra container and its allocations', async (t) => {
  const podman = fake(t);
  const absent = await podman.shim(['status']);
  t.is(absent.code, 0, absent.stderr);
  t.like(parseJson(absent) as object, { name: INFRA, present: false, running: false, allocations: [], shimProtocolVersion: '7' });
  t.deepEqual(podman.calls(), [PS]);

  const allocations = [{ container: 'c1', pid: 4242, netns: FAKE_NS, alive: true, networks: [] }];
  podman.withRunningInfra().setState({ agent: { list: { stdout: JSON.stringify({ allocations }) } } });
  podman.clearLog();
  const running = await podman.shim(['status']);
  t.is(running.code, 0, running.stderr);
  t.deepEqual(parseJson(running), {
    name: INFRA,
    shimProtocolVersion: '7',
    image: 'localhost/rootless-cni-infra:7-amd64',
    present: true,
    running: true,
    state: 'running',
    id: 'a'.repeat(64),
    protocolVersion: '7',
    compatible: true,
    allocations,
  });
  t.deepEqual(podman.calls(), [PS, `${EXEC} list`], 'the label is trusted: no version exec');

  podman.withRunningInfra({ [LABEL]: '6' });
  podman.clearLog();
  const old = await podman.shim(['status']);
  t.is(old.code, 0, old.stderr);
  t.like(parseJson(old) as object, { present: true, protocolVersion: '6', compatible: false, allocations: null });
  t.deepEqual(podman.calls(), [PS], 'nothing is asked of an agent of another protocol');
});

test('rm: dealloc-all, then rm -f; a no-op without a container', async (t) => {
  const podman = fake(t);
  const absent = await podman.shim(['rm']);
  t.is(absent.code, 0, absent.stderr);
  t.deepEqual(parseJson(absent), { removed: false });
  t.deepEqual(podman.calls(), [PS]);

  podman.withRunningInfra().setState({ agent: { 'dealloc-all': { stdout: '{"removed":[{"container":"c1"}],"errors":[]}' } } });
  podman.clearLog();
  const removed = await podman.shim(['rm']);
  t.is(removed.code, 0, removed.stderr);
  t.deepEqual(parseJson(removed), { removed: true, deallocated: [{ container: 'c1' }], errors: [] });
  t.deepEqual(podman.calls(), [PS, `${EXEC} dealloc-all`, RM]);
  t.is(podman.state().container, null);

  podman.withRunningInfra(undefined, 'exited');
  podman.clearLog();
  const stopped = await podman.shim(['rm']);
  t.is(stopped.code, 0, stopped.stderr);
  t.deepEqual(podman.calls(), [PS, RM], 'no exec into a stopped container');
});

test('rm: a failing dealloc-all keeps the container unless --force', async (t) => {
  const podman = fake(t).withRunningInfra();
  podman.setState({
    agent: { 'dealloc-all': { code: 1, stdout: '{"removed":[],"errors":["c2: busy"]}', stderr: 'Error: dealloc-all could not remove everything: c2: busy\n' } },
  });
  const refused = await podman.shim(['rm']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /dealloc-all failed with exit code 1/);
  t.not(podman.state().container, null);

  const forced = await podman.shim(['rm', '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(parseJson(forced), { removed: true, deallocated: [], errors: ['c2: busy'] });
  t.is(podman.state().container, null);
});

test('rm removes an infra container of another protocol version (the way out of a mismatch)', async (t) => {
  const podman = fake(t).withRunningInfra({ [LABEL]: '6' });
  podman.setState({ agent: { 'dealloc-all': { code: 2, stderr: 'Error: unknown command dealloc-all\n' } } });
  const result = await podman.shim(['rm']);
  t.is(result.code, 0, result.stderr);
  t.like(parseJson(result) as object, { removed: true });
  t.deepEqual(podman.calls(), [PS, `${EXEC} dealloc-all`, RM]);
  t.is(podman.state().container, null);
});
