import type { ExecutionContext } from 'ava';
import { readFileSync, readlinkSync } from 'node:fs';
import { TestInfra } from '../../helpers/infra.js';
import { bridgeNetwork } from '../../helpers/networks.js';
import { realTest as test } from '../../helpers/root-requirements.js';
import { parseJson } from '../../helpers/run.js';

// The agent, as the pkg executable, against the real plugins in a stand-in
// infra container (private net + mount namespaces, see helpers/infra.ts).

async function withInfra(t: ExecutionContext, fn: (infra: TestInfra) => Promise<void>): Promise<void> {
  const infra = await TestInfra.start();
  t.teardown(() => infra.stop());
  await fn(infra);
}

async function ok(t: ExecutionContext, infra: TestInfra, args: string[], input?: string): Promise<Record<string, unknown>> {
  const result = await infra.agent(args, input === undefined ? {} : { input });
  t.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  t.is(result.stderr, '');
  return parseJson(result) as Record<string, unknown>;
}

test('the three protocol forms of alloc, on the built-in podman network', async (t) => {
  await withInfra(t, async (infra) => {
    // 3 positional args (podman 2.1)
    const three = await ok(t, infra, ['alloc', 'c3', 'podman', 'pod3']);
    t.regex(three['ns'] as string, /^\/proc\/[0-9]+\/ns\/net$/);
    // 6 positional args with "" for "not given" (podman 2.2+)
    const caps = JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
    const six = await ok(t, infra, ['alloc', 'c6', 'podman', 'pod6', '', '', caps]);
    t.not(six['ns'], three['ns']);
    t.regex(infra.iptablesRules('nat'), /--dport 8080 -j DNAT --to-destination 10\.88\.0\.[0-9]+:80/);
    // 5 args: static IP and MAC
    const five = await ok(t, infra, ['alloc', 'c5', 'podman', 'pod5', '10.88.0.50', '02:42:ac:11:00:32']);
    const r5 = await ok(t, infra, ['print-cni-result', 'c5', 'podman']);
    t.deepEqual((r5['ips'] as Array<{ address: string }>).map((ip) => ip.address), ['10.88.0.50/16']);
    const link = infra.inNetns(five['ns'] as string, ['ip', '-o', 'link', 'show', 'eth0']).stdout;
    t.regex(link, /link\/ether 02:42:ac:11:00:32/);
    // JSON on stdin (podman 3.0): prints the CNI result
    const request = { ID: 'cjson', Network: 'podman', CNIPodName: 'podjson', IP: '', MAC: '', Aliases: [], InterfaceName: 'eth7' };
    const result = await ok(t, infra, ['alloc'], JSON.stringify(request));
    t.is(result['cniVersion'], '0.4.0');
    t.true((result['interfaces'] as Array<{ name: string }>).some((i) => i.name === 'eth7'));
    const args = infra.execOk(['cat', '/run/rootless-cni-infra/c5/attached-args/podman']);
    t.is(args, 'IgnoreUnknown=1;K8S_POD_NAME=pod5;IP=10.88.0.50;MAC=02:42:ac:11:00:32');
    // dealloc in both forms, then idle
    for (const id of ['c3', 'c6', 'c5']) t.deepEqual(await ok(t, infra, ['dealloc', id, 'podman']), {});
    t.deepEqual(await ok(t, infra, ['dealloc'], JSON.stringify({ ID: 'cjson', Network: 'podman' })), {});
    t.deepEqual(await ok(t, infra, ['is-idle']), { idle: true });
    t.notRegex(infra.iptablesRules('nat'), /8080/, 'portmap rules removed (capability args replayed at DEL)');
    t.deepEqual(infra.ipamReservations('podman'), []);
    t.deepEqual(infra.holders(), []);
  });
});

test('a container on two networks, detached and re-attached, reaches another over the bridge', async (t) => {
  await withInfra(t, async (infra) => {
    infra.writeConf('10-blue.conflist', bridgeNetwork('blue', 'cni-blue0', '10.77.1.0/24', '10.77.1.1'));
    infra.writeConf('20-green.conflist', bridgeNetwork('green', 'cni-green0', '10.77.2.0/24', '10.77.2.1', '0.4.0'));
    const a = await ok(t, infra, ['alloc', 'ctr-a', 'blue', 'a']);
    const a2 = await ok(t, infra, ['alloc', 'ctr-a', 'green', 'a']);
    t.is(a2['ns'], a['ns'], 'the same netns for both networks');
    const nsA = a['ns'] as string;
    const addrs = infra.inNetns(nsA, ['ip', '-o', '-4', 'addr', 'show']).stdout;
    t.regex(addrs, /eth0\s+inet 10\.77\.1\.2\/24/);
    t.regex(addrs, /eth1\s+inet 10\.77\.2\.2\/24/);
    t.deepEqual(await ok(t, infra, ['print-netns-path', 'ctr-a']), { path: nsA });
    t.deepEqual(await ok(t, infra, ['check', 'ctr-a', 'blue']), {});

    // Detach eth0 and attach again: eth0 is free again, eth1 untouched.
    await ok(t, infra, ['dealloc', 'ctr-a', 'blue']);
    t.notRegex(infra.inNetns(nsA, ['ip', '-o', 'link']).stdout, /eth0/);
    await ok(t, infra, ['alloc', 'ctr-a', 'blue', 'a']);
    const again = infra.inNetns(nsA, ['ip', '-o', '-4', 'addr', 'show']).stdout;
    t.regex(again, /eth0\s+inet 10\.77\.1\.[0-9]+\/24/);
    t.regex(again, /eth1\s+inet 10\.77\.2\.2\/24/);

    const b = await ok(t, infra, ['alloc', 'ctr-b', 'blue', 'b']);
    const bResult = await ok(t, infra, ['print-cni-result', 'ctr-b', 'blue']);
    const bAddress = ((bResult['ips'] as Array<{ address: string }>)[0]!.address).split('/')[0]!;
    t.is(await infra.tcpExchange(b['ns'] as string, nsA, bAddress), `hello from ${bAddress}`);

    const listed = await ok(t, infra, ['list']);
    const containers = (listed['allocations'] as Array<{ container: string; networks: Array<{ network: string; interface: string }> }>);
    t.deepEqual(containers.map((c) => c.container).sort(), ['ctr-a', 'ctr-b']);
    t.deepEqual(containers.find((c) => c.container === 'ctr-a')!.networks.map((n) => `${n.network}:${n.interface}`), ['blue:eth0', 'green:eth1']);

    for (const [id, net] of [['ctr-a', 'blue'], ['ctr-a', 'green'], ['ctr-b', 'blue']]) await ok(t, infra, ['dealloc', id!, net!]);
    t.deepEqual(await ok(t, infra, ['is-idle']), { idle: true });
    t.deepEqual(infra.holders(), [], 'no holder left');
    t.deepEqual(infra.links().filter((l) => l.startsWith('veth')), [], 'no veth left');
    t.deepEqual(infra.ipamReservations('blue'), [], 'no IPAM reservation left');
    t.deepEqual(infra.ipamReservations('green'), []);
    t.deepEqual(infra.execOk(['ls', '-A', '/run/rootless-cni-infra']).trim().split('\n').filter((f) => f !== ''), ['.locks']);
    t.deepEqual(infra.execOk(['ls', '-A', '/var/lib/cni/results']).trim(), '', 'no CNI cache entry left');
  });
});

test('dealloc of an unknown container or network is a no-op; print commands name what is missing', async (t) => {
  await withInfra(t, async (infra) => {
    t.deepEqual(await ok(t, infra, ['dealloc', 'nobody', 'podman']), {});
    await ok(t, infra, ['alloc', 'c1', 'podman', 'p']);
    t.deepEqual(await ok(t, infra, ['dealloc', 'c1', 'othernet']), {});
    const missing = await infra.agent(['print-cni-result', 'c1', 'othernet']);
    t.is(missing.code, 1);
    t.is(missing.stderr, 'Error: container "c1" is not attached to network "othernet"\n');
    const nons = await infra.agent(['print-netns-path', 'nobody']);
    t.is(nons.stderr, 'Error: container "nobody" has no network namespace\n');
    await ok(t, infra, ['dealloc', 'c1', 'podman']);
    t.deepEqual(await ok(t, infra, ['is-idle']), { idle: true });
  });
});

test('the netns holder is detached, in its own netns with lo up, and carries its marker', async (t) => {
  await withInfra(t, async (infra) => {
    const { ns } = await ok(t, infra, ['alloc', 'h1', 'podman', 'p']) as { ns: string };
    const pid = Number(/\/proc\/([0-9]+)\//.exec(ns)![1]);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    t.is(Number(fields[3]), pid, 'own session (setsid): session ID is its PID');
    for (const fd of [0, 1, 2]) t.is(readlinkSync(`/proc/${pid}/fd/${fd}`), '/dev/null', `fd ${fd} on /dev/null`);
    t.deepEqual(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((x) => x !== ''), ['sleep', 'infinity']);
    t.not(readlinkSync(`/proc/${pid}/ns/net`), infra.netnsId, 'a network namespace of its own');
    t.regex(infra.inNetns(ns, ['ip', '-o', 'link', 'show', 'lo']).stdout, /state UNKNOWN|LOWER_UP/);
    t.regex(infra.inNetns(ns, ['ip', '-o', '-4', 'addr', 'show', 'lo']).stdout, /127\.0\.0\.1\/8/);
    t.regex(readFileSync(`/proc/${pid}/environ`, 'utf8'), /ROOTLESS_CNI_INFRA_HOLDER=net:\[[0-9]+\]\|\/run\/rootless-cni-infra\/h1/);
    await ok(t, infra, ['dealloc', 'h1', 'podman']);
    t.deepEqual(infra.holders(), []);
  });
});

test('dnsname: names resolve in the network, and dealloc-all stops its dnsmasq', async (t) => {
  await withInfra(t, async (infra) => {
    const network = bridgeNetwork('dnsnet', 'cni-dns0', '10.58.0.0/24', '10.58.0.1');
    (network['plugins'] as unknown[]).push({ type: 'dnsname', domainName: 'dns.test', capabilities: { aliases: true } });
    infra.writeConf('dns.conflist', network);
    const a = await ok(t, infra, ['alloc', 'dns-a', 'dnsnet', 'alpha', '', '', '{"aliases":{"dnsnet":["www"]}}']);
    const b = await ok(t, infra, ['alloc', 'dns-b', 'dnsnet', 'beta']);
    const aAddress = ((await ok(t, infra, ['print-cni-result', 'dns-a', 'dnsnet']))['ips'] as Array<{ address: string }>)[0]!.address.split('/')[0]!;
    const dnsmasq = () => infra.exec(['pgrep', '-f', 'dnsmasq.*dnsname/dnsnet']).stdout.trim().split('\n').filter((x) => x !== '');
    t.is(dnsmasq().length, 1, 'dnsname started one dnsmasq');
    // The hosts file dnsmasq serves has the pod name and the alias.
    const hosts = infra.execOk(['cat', '/run/containers/cni/dnsname/dnsnet/addnhosts']);
    t.regex(hosts, new RegExp(`${aAddress.replaceAll('.', '\\.')}\\s+alpha\\s+www`));
    t.truthy(a['ns']);
    for (const name of ['www.dns.test', 'alpha.dns.test']) t.is(infra.resolve(b['ns'] as string, '10.58.0.1', name), aAddress, name);
    const report = await ok(t, infra, ['dealloc-all']);
    t.is((report['removed'] as unknown[]).length, 2);
    t.deepEqual(dnsmasq(), [], 'no dnsmasq left');
    t.deepEqual(infra.holders(), []);
  });
});

test('ROOTLESS_CNI_INFRA_TRACE=1 prints step timings on stderr; stdout stays one JSON document', async (t) => {
  await withInfra(t, async (infra) => {
    const traced = await infra.agent(['alloc', 'tr1', 'podman', 'p'], { env: { ROOTLESS_CNI_INFRA_TRACE: '1' } });
    t.is(traced.code, 0, traced.stderr);
    t.regex((parseJson(traced) as { ns: string }).ns, /^\/proc\/[0-9]+\/ns\/net$/);
    const steps = traced.stderr.trim().split('\n');
    for (const line of steps) t.regex(line, /^\[trace +[0-9.]+ ms\] /);
    const names = steps.map((l) => l.replace(/^\[trace +[0-9.]+ ms\] /, ''));
    t.deepEqual(names.filter((n) => /^(started|locking|locked|ADD \w+|attachment recorded)$/.test(n)), [
      'started', 'locking', 'locked', 'ADD bridge', 'ADD portmap', 'ADD firewall', 'ADD tuning', 'attachment recorded',
    ]);
    const quiet = await infra.agent(['dealloc', 'tr1', 'podman']);
    t.is(quiet.stderr, '', 'nothing without the variable');
  });
});
