import test from 'ava';
import { convertResult, parseResult, resultAddresses } from '../../../agent/src/cni/result.js';
import type { CniResult } from '../../../agent/src/cni/spec.js';

const r100: CniResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0', mac: '02:00:00:00:00:01' }, { name: 'eth0', sandbox: '/proc/5/ns/net' }],
  ips: [
    { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 1 },
    { address: 'fd00::5/64', gateway: 'fd00::1', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
  dns: { nameservers: ['10.88.0.1'] },
};

test('1.0.0 <-> 0.4.0 adds and drops the ip version', (t) => {
  const r040 = convertResult(r100, '0.4.0');
  t.deepEqual(r040, {
    cniVersion: '0.4.0',
    interfaces: r100.interfaces,
    ips: [
      { version: '4', address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 1 },
      { version: '6', address: 'fd00::5/64', gateway: 'fd00::1', interface: 1 },
    ],
    routes: r100.routes,
    dns: r100.dns,
  } as CniResult);
  t.deepEqual(convertResult(r040, '1.0.0'), r100);
  t.deepEqual(convertResult(r100, '1.1.0'), { ...r100, cniVersion: '1.1.0' } as CniResult);
  t.deepEqual(convertResult(r040, '0.3.1'), { ...r040, cniVersion: '0.3.1' } as CniResult);
});

test('to 0.2.0: one address per family, routes by family', (t) => {
  t.deepEqual(convertResult(r100, '0.2.0'), {
    cniVersion: '0.2.0',
    ip4: { ip: '10.88.0.5/16', gateway: '10.88.0.1', routes: [{ dst: '0.0.0.0/0' }] },
    ip6: { ip: 'fd00::5/64', gateway: 'fd00::1', routes: [{ dst: '::/0' }] },
    dns: r100.dns,
  } as CniResult);
  t.throws(() => convertResult({ cniVersion: '1.0.0', interfaces: [] }, '0.1.0'), { message: /no IP addresses/ });
});

test('from 0.1.0 up to every later version', (t) => {
  const r010: CniResult = { cniVersion: '0.1.0', ip4: { ip: '10.0.0.2/8', routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }] } };
  t.deepEqual(convertResult(r010, '0.3.0'), {
    cniVersion: '0.3.0',
    ips: [{ version: '4', address: '10.0.0.2/8' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
  } as CniResult);
  t.deepEqual(convertResult(r010, '1.1.0'), {
    cniVersion: '1.1.0',
    ips: [{ address: '10.0.0.2/8' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }],
  } as CniResult);
  t.deepEqual(resultAddresses(r010), ['10.0.0.2/8']);
  t.deepEqual(resultAddresses(r100), ['10.88.0.5/16', 'fd00::5/64']);
});

test('parseResult checks the shape and names the bad field', (t) => {
  t.throws(() => parseResult([], '1.0.0'), { message: 'the result is not a JSON object' });
  t.throws(() => parseResult({ cniVersion: '9.9.9' }, '1.0.0'), { message: /unknown cniVersion "9.9.9"/ });
  t.throws(() => parseResult({ ips: 'x' }, '1.0.0'), { message: 'ips is not an array' });
  t.throws(() => parseResult({ ips: [{ address: '1.2.3.4/32', interface: 'x' }] }, '1.0.0'), { message: 'ips[0].interface is not an integer' });
  t.throws(() => parseResult({ routes: [{}] }, '1.0.0'), { message: 'routes[0].dst is not a string' });
  t.throws(() => parseResult({ ip4: { ip: 1 } }, '0.2.0'), { message: 'ip4.ip is not a string' });
  t.throws(() => parseResult({ interfaces: [{}] }, '0.4.0'), { message: 'interfaces[0].name is not a string' });
  t.throws(() => parseResult({ dns: [] }, '0.4.0'), { message: 'dns is not an object' });
});
