import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { defaultImage } from '../../host/src/config.js';
import { projectRoot } from '../helpers/paths.js';
import { asUser, lookupUser } from '../helpers/podman.js';
import { commandExists, isRoot, testWhen } from '../helpers/requirements.js';
import { run } from '../helpers/run.js';

// The image build pipeline from a clean state: a user whose podman storage
// is empty (reset first), with no registry reachable: the Debian base is
// built locally (or taken from the project's cached tarball) and imported
// under its upstream name, then the Containerfile builds and runs.

const USER = 'rcni-e2e-image';
const missing = [
  ...(isRoot ? [] : ['root']),
  ...['/usr/bin/podman', '/usr/bin/mmdebstrap', '/usr/sbin/runuser'].filter((c) => !commandExists(c)),
];
const e2e = testWhen(missing, 'the image build pipeline test');

e2e('the image builds offline into an empty rootless storage and its agent answers', async (t) => {
  const setup = await run('scripts/e2e-user.sh', [USER], { cwd: projectRoot, timeoutMs: 120_000 });
  t.is(setup.code, 0, setup.stderr);
  const user = lookupUser(USER)!;
  const reset = await asUser(user, ['podman', 'system', 'reset', '--force'], { timeoutMs: 120_000 });
  t.is(reset.code, 0, reset.stderr);
  // (reset keeps storage.conf, so the storage stays on overlay)
  const images = await asUser(user, ['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
  t.is(images.stdout.trim(), '', 'the storage is empty');

  const started = performance.now();
  const build = await run('scripts/build-image.sh', ['--user', USER], { cwd: projectRoot, timeoutMs: 900_000 });
  t.is(build.code, 0, build.stderr);
  t.log(`image built from an empty storage in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const tags = (await asUser(user, ['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout;
  for (const tag of ['docker.io/library/debian:bookworm-slim', defaultImage(), 'localhost/rootless-cni-infra:latest']) {
    t.true(tags.includes(tag), `${tag} in:\n${tags}`);
  }
  const label = await asUser(user, ['podman', 'image', 'inspect', '--format', '{{index .Labels "io.github.rootless-cni-infra.protocol-version"}}', 'localhost/rootless-cni-infra:latest']);
  t.is(label.stdout.trim(), '7');
  const version = await asUser(user, ['podman', 'run', '--rm', '--pull=never', 'localhost/rootless-cni-infra:latest', 'rootless-cni-infra', 'version']);
  t.is(version.code, 0, version.stderr);
  t.deepEqual(JSON.parse(version.stdout), { version: '7', agent: '0.1.0' });
  const plugins = await asUser(user, ['podman', 'run', '--rm', '--pull=never', 'localhost/rootless-cni-infra:latest', 'ls', '/usr/lib/cni']);
  for (const plugin of ['bridge', 'host-local', 'portmap', 'firewall', 'tuning', 'dnsname']) t.regex(plugins.stdout, new RegExp(`^${plugin}$`, 'm'));
  // Leave nothing running for this user.
  await asUser(user, ['podman', 'system', 'reset', '--force'], { timeoutMs: 120_000 });
  spawnSync('pkill', ['-KILL', '-u', USER]);
});
