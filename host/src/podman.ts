import { spawn } from 'node:child_process';
import { errnoCode, UserError } from '../../common/src/errors.js';

/*
 * Running podman: always an argument array (never a shell), stdin closed,
 * output collected with a size bound, a timeout. A failure names the podman
 * command and carries podman's stderr, minus the warnings rootless podman
 * prints on every command.
 */

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const MAX_SHOWN_ARG = 60;

/** Thrown when a podman command fails; `result` is what it printed. */
export class PodmanError extends UserError {
  constructor(
    message: string,
    readonly args: string[],
    readonly result: PodmanResult | undefined,
  ) {
    super(message);
    this.name = 'PodmanError';
  }
}

/** The command as a person would type it, long arguments shortened. */
export function showCommand(binary: string, args: string[]): string {
  return [binary, ...args]
    .map((arg) => {
      const shown = arg.length > MAX_SHOWN_ARG ? `${arg.slice(0, MAX_SHOWN_ARG)}...` : arg;
      return /^[\w@%+=:,./^$-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", "'\\''")}'`;
    })
    .join(' ');
}

/**
 * Rootless podman prints logrus warnings ("/" is not a shared mount, cannot
 * toggle freezer...) on most commands. They are dropped from error messages
 * when something more telling is left; an agent's `Error: ` prefix is
 * dropped too (ours adds one).
 */
export function cleanStderr(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const telling = lines.filter((l) => !/^time="[^"]*" level=(warning|info|debug)\b/.test(l));
  const kept = telling.length > 0 ? telling : lines;
  return kept.map((l) => l.replace(/^Error: /, '')).join('\n');
}

export class Podman {
  constructor(
    readonly binary: string,
    private readonly timeoutMs: number,
  ) {}

  /** Runs podman; resolves with whatever it exited with. Rejects only when it cannot run at all. */
  run(args: string[]): Promise<PodmanResult> {
    const command = showCommand(this.binary, args);
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let bytes = 0;
      let failure: PodmanError | undefined;
      const fail = (why: string) => {
        if (failure) return;
        failure = new PodmanError(`${command} ${why}`, args, undefined);
        child.kill('SIGKILL');
      };
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_OUTPUT_BYTES) fail(`printed more than ${MAX_OUTPUT_BYTES} bytes`);
        else into.push(chunk);
      };
      child.stdout.on('data', collect(stdout));
      child.stderr.on('data', collect(stderr));
      const timer = setTimeout(() => fail(`did not finish within ${this.timeoutMs / 1000} s`), this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        const hint = errnoCode(err) === 'ENOENT' ? ' (is podman installed? set PODMAN or --podman to its path)' : '';
        reject(new PodmanError(`cannot run ${this.binary}: ${err.message}${hint}`, args, undefined));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure) {
          reject(failure);
          return;
        }
        const result = {
          code: code ?? 128,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        };
        if (signal !== null) {
          reject(new PodmanError(`${command} was killed by ${signal}`, args, result));
        } else {
          resolve(result);
        }
      });
    });
  }

  /** Runs podman and returns its stdout; any non-zero exit is a PodmanError naming the command. */
  async ok(args: string[]): Promise<string> {
    const result = await this.run(args);
    if (result.code !== 0) throw failed(this.binary, args, result);
    return result.stdout;
  }

  /** Runs podman and parses the one JSON document it printed on stdout. */
  async json(args: string[]): Promise<unknown> {
    const stdout = await this.ok(args);
    try {
      return JSON.parse(stdout);
    } catch {
      const shown = stdout.length > 200 ? `${stdout.slice(0, 200)}...` : stdout;
      throw new PodmanError(`${showCommand(this.binary, args)} did not print JSON: ${JSON.stringify(shown)}`, args, undefined);
    }
  }
}

export function failed(binary: string, args: string[], result: PodmanResult): PodmanError {
  const why = cleanStderr(result.stderr) || '(nothing on stderr)';
  return new PodmanError(`${showCommand(binary, args)} failed with exit code ${result.code}: ${why}`, args, result);
}
