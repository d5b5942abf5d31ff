import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from './tempdirs.js';
import { join } from 'node:path';
import { readNetnsId } from '../../common/src/proc.js';
import { agentExecutable, fixturesDir } from './paths.js';
import { type RunResult, run } from './run.js';

/*
 * A stand-in for the infra container, for the tests that run as root with
 * the real plugins: a private network namespace (bridges, veths and iptables
 * rules stay in it) and a private mount namespace whose /var/lib/cni and
 * /run/rootless-cni-infra are tmpfs, as in the real container. The agent and
 * any command run inside through nsenter. Nothing touches the host's network.
 */

export const CNI_PLUGIN_DIR = '/usr/lib/cni';
const STATE_DIRS = ['/var/lib/cni', '/run/rootless-cni-infra'];
const tcpFixture = join(fixturesDir, 'tcp.mjs');

export class TestInfra {
  readonly confDir: string;
  private constructor(
    readonly pid: number,
    readonly netnsId: string,
  ) {
    this.confDir = tempDir('rci-netd-');
  }

  /**
   * With readOnlyRoot, the root filesystem is read-only inside (as far as a
   * bind remount in the private mount namespace goes) and only /run and
   * /var/lib/cni are writable, as tmpfs: any write elsewhere fails with EROFS.
   */
  static async start(options: { readOnlyRoot?: boolean } = {}): Promise<TestInfra> {
    mkdirSync('/var/lib/cni', { recursive: true });
    const child = spawn('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sleep', 'infinity'], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    const pid = child.pid!;
    const own = readNetnsId('self');
    for (let i = 0; i < 500; i += 1) {
      const ns = readNetnsId(pid);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (ns && ns !== own && cmdline.startsWith('sleep')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const infra = new TestInfra(pid, readNetnsId(pid)!);
    // Like the real container (--tmpfs /run): dnsname's files, xtables.lock and our state stay inside.
    infra.execOk(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=64m', 'tmpfs', '/run']);
    for (const dir of STATE_DIRS) {
      infra.execOk(['mkdir', '-p', dir]);
      infra.execOk(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=64m', 'tmpfs', dir]);
    }
    if (options.readOnlyRoot) infra.execOk(['mount', '-o', 'remount,bind,ro', '/']);
    infra.execOk(['ip', 'link', 'set', 'lo', 'up']);
    return infra;
  }

  private nsenter(argv: string[]): string[] {
    return ['-t', String(this.pid), '--mount', '--net', '--', ...argv];
  }

  /** Runs a command inside, synchronously; throws on failure. */
  execOk(argv: string[]): string {
    const result = spawnSync('nsenter', this.nsenter(argv), { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  exec(argv: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync('nsenter', this.nsenter(argv), { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Runs the agent executable inside, with the plugins and this infra's config dir. */
  agent(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_PATH: CNI_PLUGIN_DIR,
      NETCONFPATH: this.confDir,
      ...options.env,
    };
    return run('nsenter', this.nsenter([agentExecutable, ...args]), { env, input: options.input ?? '', timeoutMs: 120_000 });
  }

  writeConf(name: string, document: unknown): void {
    writeFileSync(join(this.confDir, name), JSON.stringify(document, null, 2));
  }

  /** Runs a command in a container's netns (through the infra's mounts). */
  inNetns(nsPath: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
    return this.exec(['nsenter', `--net=${nsPath}`, '--', ...argv]);
  }

  /** PIDs of holders started by agents in this infra. */
  holders(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(name)) continue;
      try {
        const environ = readFileSync(`/proc/${name}/environ`, 'utf8');
        if (environ.includes(`ROOTLESS_CNI_INFRA_HOLDER=${this.netnsId}|`)) pids.push(Number(name));
      } catch {
        // gone or not readable
      }
    }
    return pids;
  }

  /** Starts a command in a container's netns in the background. */
  spawnInNetns(nsPath: string, argv: string[]): ChildProcessWithoutNullStreams {
    return spawn('nsenter', this.nsenter(['nsenter', `--net=${nsPath}`, '--', ...argv]), { stdio: 'pipe' });
  }

  /** A TCP server in `serverNs` on `address`, then a client in `clientNs`: what the client received. */
  async tcpExchange(serverNs: string, clientNs: string, address: string, port = 7777): Promise<string> {
    const server = this.spawnInNetns(serverNs, [process.execPath, tcpFixture, 'serve', address, String(port)]);
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.once('data', () => resolve());
        server.once('close', (code) => reject(new Error(`tcp server exited with ${code}`)));
      });
      const client = this.inNetns(clientNs, [process.execPath, tcpFixture, 'connect', address, String(port)]);
      if (client.status !== 0) throw new Error(`tcp client failed: ${client.stderr}`);
      return client.stdout;
    } finally {
      server.kill('SIGKILL');
    }
  }

  /** Asks the DNS server at `server` for `name`, from inside `nsPath`. */
  resolve(nsPath: string, server: string, name: string): string {
    const result = this.inNetns(nsPath, [process.execPath, tcpFixture, 'resolve', server, name]);
    return result.status === 0 ? result.stdout.trim() : `error: ${result.stderr.trim()}`;
  }

  links(): string[] {
    return this.execOk(['ip', '-o', 'link', 'show'])
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
  }

  /** Files of host-local's reservations for a network (inside the infra's tmpfs). */
  ipamReservations(network: string): string[] {
    const out = this.exec(['ls', '-1', `/var/lib/cni/networks/${network}`]);
    if (out.status !== 0) return [];
    return out.stdout.split('\n').filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.'));
  }

  iptablesRules(table: string): string {
    return this.execOk(['iptables', '-t', table, '-S']);
  }

  /** Kills the holders this infra's agents started, then the infra itself. */
  stop(): void {
    for (const pid of this.holders()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
