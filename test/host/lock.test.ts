import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { acquireFileLock } from '../../common/src/lock.js';
import { FakePodman, type Invocation } from '../helpers/fake-podman.js';
import { parseJson } from '../helpers/run.js';

/*
 * Every shim command that may create or remove the infra container holds a
 * per-user lock for its whole duration: concurrent commands never race to
 * create it, and a dealloc that finds it idle cannot remove it while an
 * alloc is in flight.
 */

function fake(t: { teardown(fn: () => void): void }): FakePodman {
  const podman = new FakePodman();
  t.teardown(() => podman.cleanup());
  return podman;
}

function overlapping(invocations: Invocation[]): Array<[string, string]> {
  const sorted = [...invocations].sort((a, b) => a.start - b.start);
  const found: Array<[string, string]> = [];
  for (let i = 1; i < sorted.length; i += 1) {
    if (sorted[i]!.start < sorted[i - 1]!.end) found.push([sorted[i - 1]!.argv.join(' '), sorted[i]!.argv.join(' ')]);
  }
  return found;
}

test('10 concurrent allocs with a slow podman run create the infra container once', async (t) => {
  const podman = fake(t);
  podman.setState({ runDelayMs: 400 });
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => podman.shim(['alloc', `c${i}`, 'net1'])),
  );
  for (const result of results) t.is(result.code, 0, result.stderr);
  const calls = podman.calls();
  t.is(calls.filter((c) => c.startsWith('run ')).length, 1, calls.join('\n'));
  // Ten allocs, plus the first one's attempt before the container existed.
  t.is(calls.filter((c) => c.includes(' alloc ')).length, 11, calls.join('\n'));
  t.deepEqual(overlapping(podman.invocations()), [], 'no two podman commands ran at the same time');
  t.true(existsSync(join(podman.runtimeDir, 'rootless-cni-infra.lock')), 'the lock lives in XDG_RUNTIME_DIR');
});

test('concurrent allocs and idle deallocs never interleave: every command succeeds', async (t) => {
  const podman = fake(t);
  podman.setState({ runDelayMs: 100, agent: { dealloc: { stdout: '{"idle":true}' } } });
  const commands = Array.from({ length: 6 }, (_, i) =>
    i % 2 === 0 ? ['alloc', `c${i}`, 'net1'] : ['dealloc', `c${i - 1}`, 'net1'],
  );
  const results = await Promise.all(commands.map((args) => podman.shim(args)));
  for (const [i, result] of results.entries()) t.is(result.code, 0, `${commands[i]!.join(' ')}: ${result.stderr}`);
  t.deepEqual(overlapping(podman.invocations()), []);
  // Each alloc ran its exec in a container that existed; each removal came after dealloc-all.
  const calls = podman.calls();
  for (const [i, call] of calls.entries()) {
    if (call.startsWith('rm -f')) t.true(calls[i - 1]!.endsWith('dealloc-all'), calls.join('\n'));
  }
});

test('a command waits for the lock, and gives up after ROOTLESS_CNI_LOCK_TIMEOUT', async (t) => {
  const podman = fake(t);
  const lock = await acquireFileLock(join(podman.runtimeDir, 'rootless-cni-infra.lock'), { timeoutMs: 1000, what: 'test' });
  try {
    const timedOut = await podman.shim(['alloc', 'c1', 'net1'], { ROOTLESS_CNI_LOCK_TIMEOUT: '0.3' });
    t.is(timedOut.code, 1);
    t.regex(timedOut.stderr, /^Error: timed out after 300 ms waiting for the lock on the rootless-cni-infra container/);
    t.deepEqual(podman.calls(), []);

    // Queries take no lock.
    const status = await podman.shim(['status'], { ROOTLESS_CNI_LOCK_TIMEOUT: '0.3' });
    t.is(status.code, 0, status.stderr);

    const waiting = podman.shim(['alloc', 'c1', 'net1']);
    await new Promise((r) => setTimeout(r, 300));
    lock.release();
    const result = await waiting;
    t.is(result.code, 0, result.stderr);
    t.like(parseJson(result) as object, { ns: '/proc/4242/ns/net' });
  } finally {
    lock.release();
  }
});

test('a lock file that cannot be opened is a clear error', async (t) => {
  const podman = fake(t);
  const result = await podman.shim(['alloc', 'c1', 'net1'], { XDG_RUNTIME_DIR: join(podman.root, 'no', 'such', 'dir') });
  t.is(result.code, 1);
  t.regex(result.stderr, /^Error: cannot open the lock file .*\/no\/such\/dir\/rootless-cni-infra\.lock: ENOENT/);
  t.deepEqual(podman.calls(), []);
});
