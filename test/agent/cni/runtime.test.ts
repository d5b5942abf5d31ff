import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { cacheFilePath } from '../../../agent/src/cni/cache.js';
import { PluginError } from '../../../agent/src/cni/exec.js';
import { FakeCni, runtimeConf } from '../../helpers/fake-cni.js';
import { isAlive } from '../../helpers/processes.js';

// A CNI_ variable of our own must never leak to plugins.
process.env['CNI_LEAKED'] = 'should-not-be-seen';

test('ADD runs the chain in order with the spec environment and injected keys', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-a', fake: { address: '10.9.0.2/24' } }, { type: 'fake-b' }, { type: 'fake-c' }]);
  const result = await fake.runtime().addNetworkList(list, runtimeConf());
  const log = fake.log();
  t.deepEqual(log.map((e) => `${e.command} ${e.plugin}`), ['ADD fake-a', 'ADD fake-b', 'ADD fake-c']);
  for (const entry of log) {
    t.deepEqual(entry.env, {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'c0ffee',
      CNI_NETNS: '/proc/1/ns/net',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=pod1',
      CNI_PATH: `${fake.root}/empty:${fake.pluginDir}`,
    });
    t.is(entry.stdin['name'], 'testnet');
    t.is(entry.stdin['cniVersion'], '1.0.0');
  }
  t.false('prevResult' in log[0]!.stdin, 'the first plugin has no prevResult');
  const first = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.9.0.2/24', interface: 0 }] };
  t.deepEqual(log[1]!.stdin['prevResult'], first);
  t.deepEqual(log[2]!.stdin['prevResult'], first);
  t.deepEqual(result, first);
});

test('runtimeConfig carries only the capabilities each plugin declares', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [
    { type: 'fake-a', capabilities: { portMappings: true } },
    { type: 'fake-b', capabilities: { aliases: true, mac: false } },
    { type: 'fake-c', runtimeConfig: { stale: true } },
  ]);
  const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
  await fake.runtime().addNetworkList(
    list,
    runtimeConf({ capabilityArgs: { portMappings, aliases: { testnet: ['web'] }, mac: '02:00:00:00:00:01' } }),
  );
  const [a, b, c] = fake.log();
  t.deepEqual(a!.stdin['runtimeConfig'], { portMappings });
  t.deepEqual(b!.stdin['runtimeConfig'], { aliases: { testnet: ['web'] } });
  t.deepEqual(c!.stdin['runtimeConfig'], { stale: true }, 'a plugin without capabilities keeps its own config');
});

test('results are converted so prevResult and the final result are in the list version', async (t) => {
  const fake = new FakeCni();
  const v1Result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.0.0.5/16', gateway: '10.0.0.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }] };
  const list = fake.list('0.4.0', [{ type: 'fake-a', fake: { result: v1Result } }, { type: 'fake-b' }]);
  const result = await fake.runtime().addNetworkList(list, runtimeConf());
  const expected040 = { cniVersion: '0.4.0', interfaces: [{ name: 'eth0' }], ips: [{ version: '4', address: '10.0.0.5/16', gateway: '10.0.0.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }] };
  t.deepEqual(fake.log()[1]!.stdin['prevResult'], expected040);
  t.deepEqual(result, expected040);

  const fake2 = new FakeCni();
  const oldResult = { cniVersion: '0.2.0', ip4: { ip: '10.0.0.6/16', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] } };
  const list2 = fake2.list('1.0.0', [{ type: 'fake-a', fake: { result: oldResult } }]);
  t.deepEqual(await fake2.runtime().addNetworkList(list2, runtimeConf()), {
    cniVersion: '1.0.0',
    ips: [{ address: '10.0.0.6/16', gateway: '10.0.0.1' }],
    routes: [{ dst: '0.0.0.0/0' }],
  });

  const fake3 = new FakeCni();
  const list3 = fake3.list('0.2.0', [{ type: 'fake-a', fake: { result: v1Result } }]);
  t.deepEqual(await fake3.runtime().addNetworkList(list3, runtimeConf()), {
    cniVersion: '0.2.0',
    ip4: { ip: '10.0.0.5/16', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] },
  });
});

test('a result without cniVersion is taken to be in the config version', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('0.3.1', [{ type: 'fake-a', fake: { result: { ips: [{ address: 'fd00::5/64' }] } } }]);
  t.deepEqual(await fake.runtime().addNetworkList(list, runtimeConf()), {
    cniVersion: '0.3.1',
    ips: [{ address: 'fd00::5/64', version: '6' }],
  });
});

test('a failure mid-chain runs DEL over the whole chain and reports the plugin error whole', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [
    { type: 'fake-a' },
    { type: 'fake-b', fake: { fail: { ADD: { code: 11, msg: 'no more addresses', details: 'range 10.1.2.0/24 is full' } } } },
    { type: 'fake-c' },
  ]);
  const rt = runtimeConf();
  const error = await t.throwsAsync(fake.runtime().addNetworkList(list, rt), { instanceOf: PluginError });
  t.is(
    error?.message,
    'plugin "fake-b" failed ADD for network "testnet": code 11 (try again later): no more addresses; details: range 10.1.2.0/24 is full',
  );
  t.deepEqual((error as PluginError).cniError, { cniVersion: '1.0.0', code: 11, msg: 'no more addresses', details: 'range 10.1.2.0/24 is full' });
  const log = fake.log();
  t.deepEqual(log.map((e) => `${e.command} ${e.plugin}`), ['ADD fake-a', 'ADD fake-b', 'DEL fake-c', 'DEL fake-b', 'DEL fake-a']);
  const aResult = log[1]!.stdin['prevResult'];
  for (const del of log.slice(2)) t.deepEqual(del.stdin['prevResult'], aResult, 'rollback DEL gets the last good result');
  t.false(existsSync(cacheFilePath(fake.cacheDir, 'testnet', rt.containerId, rt.ifName)), 'nothing cached');
});

test('DEL runs in reverse with the cached result and removes the cache entry', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-a', capabilities: { portMappings: true } }, { type: 'fake-b' }]);
  const rt = runtimeConf({ capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }] } });
  const runtime = fake.runtime();
  const result = await runtime.addNetworkList(list, rt);
  const cachePath = cacheFilePath(fake.cacheDir, 'testnet', rt.containerId, rt.ifName);
  t.true(existsSync(cachePath));
  fake.clearLog();
  await runtime.delNetworkList(list, rt);
  const log = fake.log();
  t.deepEqual(log.map((e) => `${e.command} ${e.plugin}`), ['DEL fake-b', 'DEL fake-a']);
  for (const entry of log) t.deepEqual(entry.stdin['prevResult'], result);
  t.deepEqual(log[1]!.stdin['runtimeConfig'], { portMappings: rt.capabilityArgs['portMappings'] });
  t.is(log[0]!.env['CNI_COMMAND'], 'DEL');
  t.false(existsSync(cachePath), 'cache entry removed');
});

test('DEL without a cache entry, or before 0.4.0, has no prevResult and still runs', async (t) => {
  const fake = new FakeCni();
  await fake.runtime().delNetworkList(fake.list('1.0.0', [{ type: 'fake-a' }]), runtimeConf({ netns: '/nonexistent/netns' }));
  const old = fake.list('0.3.1', [{ type: 'fake-a' }]);
  await fake.runtime().addNetworkList(old, runtimeConf());
  fake.clearLog();
  await fake.runtime().delNetworkList(old, runtimeConf());
  const log = fake.log();
  t.is(log.length, 1);
  t.false('prevResult' in log[0]!.stdin);
});

test('DEL keeps going when a plugin fails, then reports it and keeps the cache', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-a' }, { type: 'fake-b', fake: { fail: { DEL: { code: 5, msg: 'busy' } } } }]);
  const rt = runtimeConf();
  await fake.runtime().addNetworkList(list, rt);
  fake.clearLog();
  await t.throwsAsync(fake.runtime().delNetworkList(list, rt), { message: /plugin "fake-b" failed DEL for network "testnet": code 5 \(I\/O failure\): busy/ });
  t.deepEqual(fake.log().map((e) => `${e.command} ${e.plugin}`), ['DEL fake-b', 'DEL fake-a']);
  t.true(existsSync(cacheFilePath(fake.cacheDir, 'testnet', rt.containerId, rt.ifName)));
});

test('CHECK follows the spec rules', async (t) => {
  const fake = new FakeCni();
  const rt = runtimeConf();
  const old = fake.list('0.3.1', [{ type: 'fake-a' }]);
  await t.throwsAsync(fake.runtime().checkNetworkList(old, rt), { message: /cniVersion 0\.3\.1, which has no CHECK/ });

  const list = fake.list('1.0.0', [{ type: 'fake-a' }, { type: 'fake-b' }]);
  await t.throwsAsync(fake.runtime().checkNetworkList(list, rt), { message: /no cached result for container "c0ffee"/ });
  const result = await fake.runtime().addNetworkList(list, rt);
  fake.clearLog();
  await fake.runtime().checkNetworkList(list, rt);
  const log = fake.log();
  t.deepEqual(log.map((e) => `${e.command} ${e.plugin}`), ['CHECK fake-a', 'CHECK fake-b']);
  t.deepEqual(log[0]!.stdin['prevResult'], result);

  const disabled = fake.list('1.0.0', [{ type: 'fake-a' }], { disableCheck: true });
  fake.clearLog();
  await fake.runtime().checkNetworkList(disabled, rt);
  t.is(fake.log().length, 0, 'disableCheck: no plugin runs');
});

test('the cache file has libcni\'s layout and fields', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-a', capabilities: { aliases: true } }]);
  const rt = runtimeConf({ containerId: 'abc', ifName: 'eth3', capabilityArgs: { aliases: { testnet: ['x'] } } });
  const result = await fake.runtime().addNetworkList(list, rt);
  const path = `${fake.cacheDir}/results/testnet-abc-eth3`;
  const entry = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  t.is(entry['kind'], 'cniCacheV1');
  t.is(entry['containerId'], 'abc');
  t.is(entry['ifName'], 'eth3');
  t.is(entry['networkName'], 'testnet');
  t.is(entry['netns'], '/proc/1/ns/net');
  t.deepEqual(entry['cniArgs'], rt.args);
  t.deepEqual(entry['capabilityArgs'], rt.capabilityArgs);
  t.deepEqual(entry['result'], result);
  t.deepEqual(JSON.parse(Buffer.from(entry['config'] as string, 'base64').toString()), list.raw);
});

test('a plugin that hangs is killed at the timeout, with whatever it started', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-a' }, { type: 'fake-b', fake: { hang: 'ADD' } }]);
  await t.throwsAsync(fake.runtime(1500).addNetworkList(list, runtimeConf()), {
    message: /plugin "fake-b" failed ADD for network "testnet": killed after the plugin timeout of 1500 ms/,
  });
  t.deepEqual(fake.log().map((e) => `${e.command} ${e.plugin}`), ['ADD fake-a', 'ADD fake-b', 'DEL fake-b', 'DEL fake-a']);
  const childPid = Number(readFileSync(`${fake.logPath}.children`, 'utf8').trim());
  t.true(childPid > 0);
  t.false(isAlive(childPid), 'the plugin\'s child was killed with it');
});

test('garbage, a crash and oversized output are clear errors', async (t) => {
  const fake = new FakeCni();
  const rt = runtimeConf();
  await t.throwsAsync(fake.runtime().addNetworkList(fake.list('1.0.0', [{ type: 'fake-a', fake: { garbage: 'ADD' } }]), rt), {
    message: 'plugin "fake-a" failed ADD for network "testnet": printed "this is not JSON" instead of a JSON result',
  });
  await t.throwsAsync(fake.runtime().addNetworkList(fake.list('1.0.0', [{ type: 'fake-a', fake: { crash: 'ADD' } }]), rt), {
    message: /plugin "fake-a" failed ADD for network "testnet": exit code 2, no CNI error on stdout; stderr: panic: fake crash during ADD/,
  });
  await t.throwsAsync(fake.runtime(20_000, 4096).addNetworkList(fake.list('1.0.0', [{ type: 'fake-a', fake: { hugeBytes: 100_000 } }]), rt), {
    message: /plugin "fake-a" failed ADD for network "testnet": wrote more than 4096 bytes to stdout; killed/,
  });
  await t.throwsAsync(fake.runtime().addNetworkList(fake.list('1.0.0', [{ type: 'fake-a', fake: { result: { cniVersion: '1.0.0', ips: [{ address: 5 }] } } }]), rt), {
    message: 'plugin "fake-a" failed ADD for network "testnet": returned an invalid result: ips[0].address is not a string',
  });
});

test('a missing plugin is named with every folder searched, and nothing runs', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-a' }, { type: 'no-such-plugin' }]);
  await t.throwsAsync(fake.runtime().addNetworkList(list, runtimeConf()), {
    message: `plugin "no-such-plugin" failed ADD for network "testnet": plugin "no-such-plugin" not found: searched ${fake.root}/empty, ${fake.pluginDir}`,
  });
  t.is(fake.log().length, 0);
});

test('an incompatible version error says which versions the plugin supports', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.0.0', [{ type: 'fake-v04' }]);
  await t.throwsAsync(fake.runtime().addNetworkList(list, runtimeConf()), {
    message: /plugin "fake-v04" failed ADD for network "testnet": code 1 \(incompatible CNI version\).*; the plugin supports 0\.1\.0, 0\.2\.0, 0\.3\.0, 0\.3\.1, 0\.4\.0 and the network asks for 1\.0\.0/,
  });
  t.deepEqual((await fake.runtime().versionInfo('fake-a')).supportedVersions, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
});

test('GC removes stale cached attachments and calls GC with the valid ones (1.1.0)', async (t) => {
  const fake = new FakeCni();
  const list = fake.list('1.1.0', [{ type: 'fake-a' }, { type: 'fake-b' }]);
  const runtime = fake.runtime();
  await runtime.addNetworkList(list, runtimeConf({ containerId: 'keep' }));
  await runtime.addNetworkList(list, runtimeConf({ containerId: 'stale', netns: '/proc/2/ns/net' }));
  fake.clearLog();
  const removed = await runtime.gcNetworkList(list, [{ containerID: 'keep', ifname: 'eth0' }]);
  t.deepEqual(removed, [{ containerID: 'stale', ifname: 'eth0' }]);
  const log = fake.log();
  t.deepEqual(log.map((e) => `${e.command} ${e.plugin} ${e.env['CNI_CONTAINERID'] ?? ''}`), [
    'DEL fake-b stale',
    'DEL fake-a stale',
    'GC fake-a ',
    'GC fake-b ',
  ]);
  t.is(log[0]!.env['CNI_NETNS'], '/proc/2/ns/net');
  t.deepEqual(log[2]!.stdin['cni.dev/valid-attachments'], [{ containerID: 'keep', ifname: 'eth0' }]);
  t.false(existsSync(cacheFilePath(fake.cacheDir, 'testnet', 'stale', 'eth0')));
  t.true(existsSync(cacheFilePath(fake.cacheDir, 'testnet', 'keep', 'eth0')));

  fake.clearLog();
  await runtime.gcNetworkList(fake.list('1.1.0', [{ type: 'fake-a' }], { disableGC: true }), [{ containerID: 'keep', ifname: 'eth0' }]);
  t.is(fake.log().length, 0, 'disableGC: no GC call');
  await runtime.gcNetworkList(fake.list('1.0.0', [{ type: 'fake-a' }]), [{ containerID: 'keep', ifname: 'eth0' }]);
  t.is(fake.log().length, 0, 'before 1.1.0: no GC call');
});

test('STATUS runs for 1.1.0 lists only and surfaces a plugin error', async (t) => {
  const fake = new FakeCni();
  await fake.runtime().statusNetworkList(fake.list('1.0.0', [{ type: 'fake-a' }]));
  t.is(fake.log().length, 0);
  await fake.runtime().statusNetworkList(fake.list('1.1.0', [{ type: 'fake-a' }, { type: 'fake-b' }]));
  t.deepEqual(fake.log().map((e) => `${e.command} ${e.plugin}`), ['STATUS fake-a', 'STATUS fake-b']);
  await t.throwsAsync(
    fake.runtime().statusNetworkList(fake.list('1.1.0', [{ type: 'fake-a', fake: { fail: { STATUS: { code: 50, msg: 'not ready' } } } }])),
    { message: 'plugin "fake-a" failed STATUS for network "testnet": code 50 (plugin not available): not ready' },
  );
});
