import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, UserError } from '../../../common/src/errors.js';
import { type CniErrorResult, ERROR_CODES } from './spec.js';

/*
 * Finding and running plugin binaries (libcni's invoke package). Plugins are
 * spawned with an argument vector, never a shell, in their own process group
 * so that a timeout kills whatever they started too. Their stdout is bounded.
 */

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';

export interface ExecLimits {
  timeoutMs: number;
  maxOutputBytes: number;
}

export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const MAX_STDERR_KEPT = 16 * 1024;

/** What failed, for an error message: plugin type, network and command. */
export interface PluginContext {
  plugin: string;
  network?: string;
  command: CniCommand;
}

/** A plugin's failure, with its CNI error (code, msg, details) when it printed one. */
export class PluginError extends UserError {
  readonly context: PluginContext;
  readonly cniError: CniErrorResult | undefined;
  readonly stderr: string;

  constructor(context: PluginContext, problem: string, cniError?: CniErrorResult, stderr = '') {
    const where = context.network ? ` for network "${context.network}"` : '';
    super(`plugin "${context.plugin}" failed ${context.command}${where}: ${problem}`);
    this.name = 'PluginError';
    this.context = context;
    this.cniError = cniError;
    this.stderr = stderr;
  }
}

export function describeCniError(error: CniErrorResult): string {
  const known = ERROR_CODES[error.code];
  const code = known ? `code ${error.code} (${known})` : `code ${error.code}`;
  return `${code}: ${error.msg}${error.details ? `; details: ${error.details}` : ''}`;
}

/** The plugin binary for `type`, from the first folder of `searchPath` that has it. */
export function findPlugin(type: string, searchPath: string[]): string {
  const folders = searchPath.filter((dir) => dir !== '');
  for (const dir of folders) {
    const candidate = join(dir, type);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  const searched = folders.length > 0 ? folders.join(', ') : '(CNI_PATH is empty)';
  throw new UserError(`plugin "${type}" not found: searched ${searched}`);
}

function parseCniError(stdout: string): CniErrorResult | undefined {
  try {
    const doc = JSON.parse(stdout) as Record<string, unknown>;
    if (typeof doc['code'] === 'number' && typeof doc['msg'] === 'string') {
      const error: CniErrorResult = { code: doc['code'], msg: doc['msg'] };
      if (typeof doc['details'] === 'string' && doc['details'] !== '') error.details = doc['details'];
      if (typeof doc['cniVersion'] === 'string') error.cniVersion = doc['cniVersion'];
      return error;
    }
  } catch {
    // not a CNI error document
  }
  return undefined;
}

const SETPRIV = '/usr/bin/setpriv';
let hasSetpriv: boolean | undefined;

/**
 * A plugin must not outlive an agent that is killed: an ADD finishing after
 * `gc` undid the attachment would leak its veth and address. util-linux
 * setpriv sets PR_SET_PDEATHSIG before exec'ing the plugin (Node's spawn
 * cannot). Without setpriv, plugins run directly.
 */
function withParentDeathSignal(pluginPath: string): [string, string[]] {
  hasSetpriv ??= (() => {
    try {
      accessSync(SETPRIV, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  })();
  return hasSetpriv ? [SETPRIV, ['--pdeathsig', 'KILL', '--', pluginPath]] : [pluginPath, []];
}

export interface ExecRequest {
  pluginPath: string;
  context: PluginContext;
  /** CNI_* variables; any CNI_* of our own environment is dropped first. */
  cniEnv: Record<string, string>;
  stdin: string;
  limits: ExecLimits;
}

/** Runs a plugin and returns its stdout, or throws a PluginError. */
export function execPlugin(request: ExecRequest): Promise<string> {
  const { pluginPath, context, limits } = request;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CNI_')) env[key] = value;
  }
  Object.assign(env, request.cniEnv);

  return new Promise((resolve, reject) => {
    const [file, args] = withParentDeathSignal(pluginPath);
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: string | undefined;
    let settled = false;

    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      failure = `killed after the plugin timeout of ${limits.timeoutMs} ms`;
      killGroup();
    }, limits.timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > limits.maxOutputBytes) {
        if (!failure) failure = `wrote more than ${limits.maxOutputBytes} bytes to stdout; killed`;
        killGroup();
        return;
      }
      stdoutChunks.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR_KEPT);
    });
    child.stdin.on('error', () => {
      // The plugin may exit without reading its config: its exit status tells.
    });
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new PluginError(context, `cannot execute ${pluginPath}: ${errorMessage(err)}`));
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const stdout = Buffer.concat(stdoutChunks).toString('utf8');
      const stderrNote = stderr.trim() ? `; stderr: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : '';
      if (failure) {
        reject(new PluginError(context, `${failure}${stderrNote}`, undefined, stderr));
      } else if (code === 0) {
        resolve(stdout);
      } else {
        const cniError = parseCniError(stdout);
        if (cniError) {
          reject(new PluginError(context, describeCniError(cniError), cniError, stderr));
        } else {
          const status = signal ? `killed by ${signal}` : `exit code ${code}`;
          const out = stdout.trim() ? `; stdout: ${JSON.stringify(stdout.trim().slice(0, 500))}` : '';
          reject(new PluginError(context, `${status}, no CNI error on stdout${out}${stderrNote}`, undefined, stderr));
        }
      }
    });
    child.stdin.end(request.stdin);
  });
}
