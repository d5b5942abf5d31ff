import { listPids, readCmdline, readNetnsId, readStartTime } from '../../../common/src/proc.js';

/*
 * Daemons that plugins start in the infra container's network namespace:
 * dnsname runs one dnsmasq per network (config under
 * /run/containers/cni/dnsname/). With --pid=host they are host processes, and
 * rootless `podman rm` of the infra container does not kill them, so
 * `dealloc-all` stops them before the container goes. Only processes in this
 * agent's own network namespace (this infra instance) with that exact
 * command line are touched.
 */

const DNSNAME_CONF_PREFIX = '--conf-file=/run/containers/cni/dnsname/';

interface Daemon {
  pid: number;
  startTime: string;
}

function findPluginDaemons(): Daemon[] {
  const ownNetns = readNetnsId('self');
  const found: Daemon[] = [];
  for (const pid of listPids()) {
    const argv = readCmdline(pid);
    if (!argv || !argv[0]?.endsWith('dnsmasq') || !argv.some((a) => a.startsWith(DNSNAME_CONF_PREFIX))) continue;
    if (readNetnsId(pid) !== ownNetns) continue;
    const startTime = readStartTime(pid);
    if (startTime !== undefined) found.push({ pid, startTime });
  }
  return found;
}

function signal(daemon: Daemon, sig: NodeJS.Signals): void {
  if (readStartTime(daemon.pid) !== daemon.startTime) return;
  try {
    process.kill(daemon.pid, sig);
  } catch {
    // gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; returns the PIDs stopped. */
export async function stopPluginDaemons(graceMs = 2_000): Promise<number[]> {
  const daemons = findPluginDaemons();
  for (const daemon of daemons) signal(daemon, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (daemons.some((d) => readStartTime(d.pid) === d.startTime) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const daemon of daemons) signal(daemon, 'SIGKILL');
  return daemons.map((d) => d.pid);
}
