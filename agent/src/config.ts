import { secondsFromEnv } from '../../common/src/env.js';
import { UserError } from '../../common/src/errors.js';
import { runtimeOptionsFromEnv, type RuntimeOptions } from './cni/runtime.js';
import { DEFAULT_RUN_DIR } from './state/store.js';

/** The agent's settings, all from the environment (documented in the README). */
export interface AgentConfig {
  runDir: string;
  netConfPath: string;
  runtime: RuntimeOptions;
  lockTimeoutMs: number;
}

export const DEFAULT_NETCONFPATH = '/etc/cni/net.d';
const DEFAULT_LOCK_TIMEOUT_MS = 300_000;

function absolutePath(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!value.startsWith('/')) throw new UserError(`invalid ${name} ${JSON.stringify(value)}: must be an absolute path`);
  return value;
}

export function agentConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return {
    runDir: absolutePath(env, 'ROOTLESS_CNI_INFRA_RUN_DIR', DEFAULT_RUN_DIR),
    netConfPath: absolutePath(env, 'NETCONFPATH', DEFAULT_NETCONFPATH),
    runtime: runtimeOptionsFromEnv(env),
    lockTimeoutMs: secondsFromEnv(env, 'ROOTLESS_CNI_INFRA_LOCK_TIMEOUT', DEFAULT_LOCK_TIMEOUT_MS),
  };
}
