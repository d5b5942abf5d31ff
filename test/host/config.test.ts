import test from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultImage, hostConfig, lockPathFor } from '../../host/src/config.js';

test('the default image is the one build-image.sh tags for this protocol version', (t) => {
  t.is(defaultImage('x64'), 'localhost/rootless-cni-infra:7-amd64');
  t.is(defaultImage('arm64'), 'localhost/rootless-cni-infra:7-arm64');
});

test('the lock lives in XDG_RUNTIME_DIR, else /run/user/UID, else the temporary directory', (t) => {
  t.is(lockPathFor({ XDG_RUNTIME_DIR: '/run/user/1234' }, 1234), '/run/user/1234/rootless-cni-infra.lock');
  t.is(lockPathFor({ XDG_RUNTIME_DIR: 'relative' }, 987654321), join(tmpdir(), 'rootless-cni-infra-987654321.lock'));
  t.is(lockPathFor({}, 987654321), join(tmpdir(), 'rootless-cni-infra-987654321.lock'));
});

test('flags win over variables, variables over defaults', (t) => {
  const env = { HOME: '/home/u', PODMAN: '/opt/podman', ROOTLESS_CNI_INFRA_IMAGE: 'img:1', XDG_RUNTIME_DIR: '/run/user/5' };
  const fromEnv = hostConfig({}, env);
  t.like(fromEnv, { podman: '/opt/podman', image: 'img:1', configDir: '/home/u/.config/cni/net.d', lockPath: '/run/user/5/rootless-cni-infra.lock' });
  t.is(fromEnv.lockTimeoutMs, 300_000);
  const fromFlags = hostConfig({ podman: 'p2', image: 'img:2', configDir: '/etc/cni/net.d' }, env);
  t.like(fromFlags, { podman: 'p2', image: 'img:2', configDir: '/etc/cni/net.d' });
  t.like(hostConfig({}, { HOME: '/h', ROOTLESS_CNI_LOCK_TIMEOUT: '2.5' }), { podman: 'podman', lockTimeoutMs: 2500 });
});

test('values podman would misread are refused', (t) => {
  t.throws(() => hostConfig({ configDir: '/a:b' }, { HOME: '/h' }), { message: /must not contain ':'/ });
  t.throws(() => hostConfig({ image: '--privileged' }, { HOME: '/h' }), { message: /invalid image name/ });
  t.throws(() => hostConfig({}, { HOME: '/h', ROOTLESS_CNI_LOCK_TIMEOUT: 'soon' }), { message: /ROOTLESS_CNI_LOCK_TIMEOUT/ });
});
