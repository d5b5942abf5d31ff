import test from 'ava';
import { tempDir } from '../helpers/tempdirs.js';
import { spawn } from 'node:child_process';

import { join } from 'node:path';
import { acquireFileLock } from '../../common/src/lock.js';

function tempLockPath(): string {
  return join(tempDir('rci-lock-'), 'lock');
}

test('an exclusive lock excludes, a shared lock shares', async (t) => {
  const path = tempLockPath();
  const first = await acquireFileLock(path, { timeoutMs: 1000, what: 'test' });
  await t.throwsAsync(acquireFileLock(path, { timeoutMs: 200, what: 'the test lock' }), {
    message: /timed out after 200 ms waiting for the lock on the test lock/,
  });
  first.release();
  const a = await acquireFileLock(path, { shared: true, timeoutMs: 1000, what: 'test' });
  const b = await acquireFileLock(path, { shared: true, timeoutMs: 1000, what: 'test' });
  await t.throwsAsync(acquireFileLock(path, { timeoutMs: 100, what: 'test' }));
  a.release();
  b.release();
  const c = await acquireFileLock(path, { timeoutMs: 1000, what: 'test' });
  c.release();
});

test('a lock held by a process that is killed is released by the kernel', async (t) => {
  const path = tempLockPath();
  const lockModule = new URL('../../common/src/lock.js', import.meta.url).href;
  const script = `import(${JSON.stringify(lockModule)})
    .then((m) => m.acquireFileLock(${JSON.stringify(path)}, { timeoutMs: 1000, what: 'child' }))
    .then(() => { process.stdout.write('locked\\n'); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await t.throwsAsync(acquireFileLock(path, { timeoutMs: 100, what: 'test' }));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const lock = await acquireFileLock(path, { timeoutMs: 2000, what: 'test' });
  lock.release();
});
