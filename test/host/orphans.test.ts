import { spawn } from 'node:child_process';
import { reapOrphans } from '../../host/src/infra.js';
import { HOLDER_MARKER_VARIABLE } from '../../common/src/holder-identity.js';
import { readNamespaceId } from '../../common/src/proc.js';
import { isAlive } from '../helpers/processes.js';
import { commandExists, isRoot, testWhen } from '../helpers/requirements.js';

// The shim stops holders that outlived their infra container, but only its
// own user's: run as root, it must leave another user's holders (in that
// user's rootless namespace) alone.
const test = testWhen(
  [...(isRoot ? [] : ['root']), ...['/usr/sbin/runuser', '/usr/bin/unshare'].filter((c) => !commandExists(c))],
  'the orphan-reaping test',
);

test("reapOrphans leaves another user's marked holder alone", async (t) => {
  // A holder-like process of user nobody, in a user namespace of its own, with a marker.
  const other = spawn(
    'runuser',
    ['-u', 'nobody', '--', 'unshare', '--user', '--map-root-user', '--net', '--', 'env', `${HOLDER_MARKER_VARIABLE}=net:[1]|/run/rootless-cni-infra/x`, 'sleep', 'infinity'],
    { stdio: 'ignore', detached: true },
  );
  t.teardown(() => {
    try {
      process.kill(-other.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  // Wait until `sleep` runs in its own user namespace (runuser forks it).
  let sleeper: number | undefined;
  for (let i = 0; i < 200 && sleeper === undefined; i += 1) {
    await new Promise((r) => setTimeout(r, 10));
    const { findMarkedHolders } = await import('../../common/src/holder-identity.js');
    sleeper = findMarkedHolders('net:[1]|').find((h) => readNamespaceId(h.pid, 'user') !== readNamespaceId('self', 'user'))?.pid;
  }
  t.truthy(sleeper, 'the other user\'s marked holder started');
  const reaped = reapOrphans();
  t.true(isAlive(sleeper!), 'not killed');
  t.is(reaped.holders, 0);
});
