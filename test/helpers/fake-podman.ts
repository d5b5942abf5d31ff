import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostShim } from './paths.js';
import { type RunResult, run } from './run.js';

/*
 * A fake podman for the host shim's unit tests: a small Node script that
 * records every invocation (argv, start and end time) and answers like
 * podman 4 would, from a JSON state file: the infra container (absent,
 * running, exited...) and canned answers of the agent for each command.
 */

export interface FakeContainer {
  Id: string;
  Image: string;
  State: string;
  Labels: Record<string, string>;
}

export interface Canned {
  code?: number;
  stdout?: string;
  stderr?: string;
}

export interface FakeState {
  container: FakeContainer | null;
  /** How long `podman run` takes. */
  runDelayMs: number;
  /** What `podman exec rootless-cni-infra rootless-cni-infra CMD` answers, by CMD. */
  agent: Record<string, Canned>;
  /** Failures of podman's own commands (run, rm, ps), by podman command. */
  fail: Record<string, Canned>;
}

export interface Invocation {
  argv: string[];
  start: number;
  end: number;
}

export const FAKE_NS = '/proc/4242/ns/net';
export const FAKE_RESULT = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: FAKE_NS }],
  ips: [{ address: '10.88.0.2/16', gateway: '10.88.0.1', interface: 0 }],
};

function defaultState(): FakeState {
  return {
    container: null,
    runDelayMs: 0,
    agent: {
      alloc: { stdout: JSON.stringify({ ns: FAKE_NS, result: FAKE_RESULT }) },
      dealloc: { stdout: JSON.stringify({ idle: false }) },
      'dealloc-all': { stdout: JSON.stringify({ removed: [], errors: [] }) },
      list: { stdout: JSON.stringify({ allocations: [] }) },
      version: { stdout: JSON.stringify({ version: '7', agent: '0.1.0' }) },
      'print-netns-path': { stdout: JSON.stringify({ path: FAKE_NS }) },
      'print-cni-result': { stdout: JSON.stringify(FAKE_RESULT) },
    },
    fail: {},
  };
}

// CommonJS (the temporary directory has no package.json saying otherwise).
const SCRIPT = String.raw`#!/usr/bin/env node
'use strict';
const fs = require('fs');
const path = require('path');
const dir = path.dirname(fs.realpathSync(process.argv[1]));
const statePath = path.join(dir, 'state.json');
const argv = process.argv.slice(2);
const start = Date.now();
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const NAME = 'rootless-cni-infra';
const WARNING = 'time="2024-01-01T00:00:00Z" level=warning msg="\"/\" is not a shared mount, this could cause issues or missing mounts with rootless containers"\n';

function save() {
  const tmp = statePath + '.' + process.pid;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, statePath);
}
function finish(canned) {
  fs.appendFileSync(path.join(dir, 'log.jsonl'), JSON.stringify({ argv, start, end: Date.now() }) + '\n');
  process.stderr.write(WARNING + (canned.stderr || ''));
  process.stdout.write(canned.stdout || '');
  process.exitCode = canned.code || 0;
}
function sleep(ms) {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const command = argv[0];
if (state.fail[command]) {
  finish(state.fail[command]);
} else if (command === 'ps') {
  const c = state.container;
  finish({ stdout: JSON.stringify(c ? [{ ...c, Names: [NAME], Command: ['sleep', 'infinity'] }] : [], null, 2) });
} else if (command === 'run') {
  sleep(state.runDelayMs);
  const fresh = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  if (fresh.container && !argv.includes('--replace')) {
    finish({ code: 125, stderr: 'Error: creating container storage: the container name "' + NAME + '" is already in use\n' });
  } else {
    const labels = {};
    argv.forEach((a, i) => {
      if (a === '--label') {
        const [k, ...v] = argv[i + 1].split('=');
        labels[k] = v.join('=');
      }
    });
    const id = require('crypto').randomBytes(32).toString('hex');
    state.container = { Id: id, Image: argv[argv.length - 1], State: 'running', Labels: labels };
    save();
    finish({ stdout: id + '\n' });
  }
} else if (command === 'exec') {
  if (argv[1] !== NAME || argv[2] !== 'rootless-cni-infra') {
    finish({ code: 125, stderr: 'Error: fake podman: unexpected exec ' + JSON.stringify(argv) + '\n' });
  } else if (!state.container || state.container.State !== 'running') {
    finish({ code: 125, stderr: 'Error: can only create exec sessions on running containers: container state improper\n' });
  } else {
    // The agent's protocol handshake: an agent of protocol 7 or later refuses
    // another version with exit code 3; an older one knows no such flag.
    const expected = argv.find((a) => a.startsWith('--expect-protocol='));
    let speaks = '7';
    try {
      speaks = String(JSON.parse((state.agent.version || {}).stdout || '{}').version || '7');
    } catch {}
    if (expected && expected.split('=')[1] !== speaks) {
      if (Number(speaks) >= 7) {
        finish({ code: 3, stderr: 'Error: protocol mismatch: the caller speaks protocol version ' + expected.split('=')[1] + ', this agent speaks ' + speaks + '\n' });
      } else {
        finish({ code: 1, stderr: 'Usage: rootless-cni-infra alloc CONTAINER_ID NETWORK_NAME POD_NAME\n' });
      }
    } else {
      finish(state.agent[argv[3]] || { code: 1, stderr: 'Error: fake agent: no answer for ' + argv[3] + '\n' });
    }
  }
} else if (command === 'rm') {
  if (!state.container) {
    finish({ code: 1, stderr: 'Error: no container with name or ID "' + NAME + '" found: no such container\n' });
  } else {
    state.container = null;
    save();
    finish({ stdout: NAME + '\n' });
  }
} else {
  finish({ code: 125, stderr: 'Error: fake podman: unknown command ' + JSON.stringify(argv) + '\n' });
}
`;

export class FakePodman {
  readonly root = mkdtempSync(join(tmpdir(), 'rci-fake-podman-'));
  readonly binDir = join(this.root, 'bin');
  readonly binary = join(this.binDir, 'podman');
  readonly home = join(this.root, 'home');
  readonly runtimeDir = join(this.root, 'run');
  readonly configDir = join(this.home, '.config', 'cni', 'net.d');
  private readonly statePath = join(this.binDir, 'state.json');
  private readonly logPath = join(this.binDir, 'log.jsonl');

  constructor(state: Partial<FakeState> = {}) {
    mkdirSync(this.binDir, { recursive: true });
    mkdirSync(this.home, { recursive: true });
    mkdirSync(this.runtimeDir, { recursive: true, mode: 0o700 });
    writeFileSync(this.binary, SCRIPT);
    chmodSync(this.binary, 0o755);
    this.setState(state);
    writeFileSync(this.logPath, '');
  }

  state(): FakeState {
    return JSON.parse(readFileSync(this.statePath, 'utf8')) as FakeState;
  }

  /** Replaces parts of the state; `agent` and `fail` entries are merged into the defaults. */
  setState(changes: Partial<FakeState>): void {
    let current: FakeState;
    try {
      current = this.state();
    } catch {
      current = defaultState();
    }
    const next: FakeState = {
      ...current,
      ...changes,
      agent: { ...current.agent, ...changes.agent },
      fail: { ...current.fail, ...changes.fail },
    };
    writeFileSync(this.statePath, JSON.stringify(next));
  }

  /** A running infra container as the shim would have created it. */
  withRunningInfra(labels: Record<string, string> = { 'io.github.rootless-cni-infra.protocol-version': '7' }, state = 'running'): this {
    this.setState({ container: { Id: 'a'.repeat(64), Image: 'localhost/rootless-cni-infra:7-amd64', State: state, Labels: labels } });
    return this;
  }

  invocations(): Invocation[] {
    return readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Invocation);
  }

  /** Each call's argv, as one string, e.g. "exec rootless-cni-infra rootless-cni-infra alloc ...". */
  calls(): string[] {
    return this.invocations().map((i) => i.argv.join(' '));
  }

  clearLog(): void {
    writeFileSync(this.logPath, '');
  }

  /** The shim's environment; a variable given as undefined in `extra` is left out. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: this.home,
      XDG_RUNTIME_DIR: this.runtimeDir,
      PODMAN: this.binary,
      ...extra,
    };
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    return env;
  }

  /** Runs dist/rootless-cni against this fake. */
  shim(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return run(hostShim, args, { env: this.env(extraEnv), cwd: this.root, timeoutMs: 60_000 });
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
