import test from 'ava';
import {
  validateCniArgValue,
  validateContainerId,
  validateInterfaceName,
  validateIpAddress,
  validateMacAddress,
  validateNetworkName,
} from '../../common/src/validate.js';

test('container IDs and network names follow the CNI rules', (t) => {
  for (const good of ['a', 'abc123', 'A.b_c-d', '0', 'f'.repeat(64), 'podman']) {
    t.is(validateContainerId(good), good);
    t.is(validateNetworkName(good), good);
  }
  for (const bad of ['', '../x', 'a/b', '.hidden', '-x', '_x', 'a b', 'a\nb', 'a;b', 'é', '..', '.', 'x'.repeat(129)]) {
    t.throws(() => validateContainerId(bad), { message: /invalid container ID/ }, bad);
  }
  t.throws(() => validateNetworkName('n'.repeat(101)), { message: /longer than 100/ });
  t.throws(() => validateNetworkName(undefined), { message: /must not be empty/ });
  t.throws(() => validateNetworkName(42), { message: /invalid network name/ });
});

test('interface names follow the kernel and CNI rules', (t) => {
  for (const good of ['eth0', 'eth15', 'a', 'x'.repeat(15), 'net-1.2']) t.is(validateInterfaceName(good), good);
  for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'x'.repeat(16), 'a\u0000b']) {
    t.throws(() => validateInterfaceName(bad), { message: /invalid interface name/ }, JSON.stringify(bad));
  }
});

test('CNI_ARGS values cannot inject keys', (t) => {
  t.is(validateCniArgValue('pod name', 'my-pod'), 'my-pod');
  t.is(validateCniArgValue('pod name', ''), '');
  for (const bad of ['a;IP=1.2.3.4', 'a=b', 'x\n', 'y'.repeat(254)]) {
    t.throws(() => validateCniArgValue('pod name', bad), { message: /invalid pod name/ });
  }
});

test('IP and MAC addresses', (t) => {
  t.is(validateIpAddress('10.88.0.5'), '10.88.0.5');
  t.is(validateIpAddress('fd00::1'), 'fd00::1');
  for (const bad of ['10.88.0.256', '10.88.0.5/24', 'x', '', '1.2.3.4;K=V']) {
    t.throws(() => validateIpAddress(bad), { message: /invalid IP address/ });
  }
  t.is(validateMacAddress('AA:bb:cc:00:11:22'), 'aa:bb:cc:00:11:22');
  for (const bad of ['aa:bb:cc:00:11', 'aa-bb-cc-00-11-22', 'zz:bb:cc:00:11:22', 'aa:bb:cc:00:11:22;X=1']) {
    t.throws(() => validateMacAddress(bad), { message: /invalid MAC address/ });
  }
});
