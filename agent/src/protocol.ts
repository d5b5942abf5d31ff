import { readFileSync } from 'node:fs';
import { isObject } from '../../common/src/json.js';
import { errorMessage, UsageError } from '../../common/src/errors.js';
import {
  validateCniArgValue,
  validateContainerId,
  validateInterfaceName,
  validateIpAddress,
  validateMacAddress,
  validateNetworkName,
} from '../../common/src/validate.js';
import type { AllocRequest } from './allocator.js';

/*
 * The forms in which podman has called the infra container, turned into one
 * validated request. Everything is checked here, before any path, variable or
 * process is touched.
 */

const MAX_STDIN_BYTES = 1024 * 1024;
const MAX_CAP_ARGS_BYTES = 64 * 1024;


/** CAP_ARGS: a JSON object of capability args, e.g. {"portMappings":[...],"aliases":{"net":["web"]}}. */
export function parseCapArgs(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text === '') return {};
  if (text.length > MAX_CAP_ARGS_BYTES) throw new UsageError(`invalid CAP_ARGS: longer than ${MAX_CAP_ARGS_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`invalid CAP_ARGS: not JSON: ${errorMessage(err)}`);
  }
  if (!isObject(parsed)) throw new UsageError('invalid CAP_ARGS: must be a JSON object of capability arguments');
  return parsed;
}

function optional<T>(value: string | undefined, validate: (v: string) => T): T | undefined {
  return value === undefined || value === '' ? undefined : validate(value);
}

export interface PositionalAlloc {
  containerId: string;
  network: string;
  podName: string;
  ip?: string | undefined;
  mac?: string | undefined;
  capArgs?: string | undefined;
  ifName?: string | undefined;
}

/** `alloc CONTAINER_ID NETWORK_NAME POD_NAME [IP [MAC [CAP_ARGS]]]`; an empty string means "not given". */
export function allocRequestFromArgs(args: PositionalAlloc): AllocRequest {
  return {
    containerId: validateContainerId(args.containerId),
    network: validateNetworkName(args.network),
    podName: validateCniArgValue('pod name', args.podName),
    ip: optional(args.ip, validateIpAddress),
    mac: optional(args.mac, validateMacAddress),
    ifName: optional(args.ifName, validateInterfaceName),
    capabilityArgs: parseCapArgs(args.capArgs),
  };
}

function stringField(doc: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const value = doc[key];
  if (value === undefined || value === null) {
    if (required) throw new UsageError(`invalid request on stdin: "${key}" is missing`);
    return undefined;
  }
  if (typeof value !== 'string') throw new UsageError(`invalid request on stdin: "${key}" must be a string`);
  return value;
}

function absolutePathField(doc: Record<string, unknown>, key: string): string | undefined {
  const value = stringField(doc, key, false);
  if (value === undefined || value === '') return undefined;
  if (!value.startsWith('/') || value.includes('\0')) {
    throw new UsageError(`invalid request on stdin: "${key}" must be an absolute path`);
  }
  return value;
}

/** The JSON form of podman 3.0: {"ID","Network","CNIPodName","IP","MAC","Aliases","InterfaceName","PluginPaths","NetConfPath"}. */
export function allocRequestFromJson(document: unknown): AllocRequest {
  if (!isObject(document)) throw new UsageError('invalid request on stdin: expected a JSON object');
  const network = validateNetworkName(stringField(document, 'Network', true));
  const capabilityArgs: Record<string, unknown> = {};
  const aliases = document['Aliases'];
  if (aliases !== undefined && aliases !== null) {
    if (Array.isArray(aliases) && aliases.every((a) => typeof a === 'string')) {
      if (aliases.length > 0) capabilityArgs['aliases'] = { [network]: aliases };
    } else if (isObject(aliases) && Object.values(aliases).every((v) => Array.isArray(v) && v.every((a) => typeof a === 'string'))) {
      if (Object.keys(aliases).length > 0) capabilityArgs['aliases'] = aliases;
    } else {
      throw new UsageError('invalid request on stdin: "Aliases" must be a list of names or a map of network to names');
    }
  }
  let pluginPath: string[] | undefined;
  const paths = document['PluginPaths'];
  if (paths !== undefined && paths !== null) {
    const list = typeof paths === 'string' ? paths.split(':') : paths;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && p.startsWith('/') && !p.includes('\0'))) {
      throw new UsageError('invalid request on stdin: "PluginPaths" must be a list of absolute paths');
    }
    if (list.length > 0) pluginPath = list as string[];
  }
  return {
    containerId: validateContainerId(stringField(document, 'ID', true)),
    network,
    podName: validateCniArgValue('pod name', stringField(document, 'CNIPodName', false) ?? ''),
    ip: optional(stringField(document, 'IP', false), validateIpAddress),
    mac: optional(stringField(document, 'MAC', false), validateMacAddress),
    ifName: optional(stringField(document, 'InterfaceName', false), validateInterfaceName),
    capabilityArgs,
    netConfPath: absolutePathField(document, 'NetConfPath'),
    pluginPath,
  };
}

/** One JSON document from stdin (the podman 3.0 form), bounded in size. */
export function readStdinJson(): unknown {
  if (process.stdin.isTTY) {
    throw new UsageError('no arguments given and stdin is a terminal (see "help")');
  }
  let text: string;
  try {
    const buffer = readFileSync(0);
    if (buffer.length > MAX_STDIN_BYTES) throw new UsageError(`the request on stdin is larger than ${MAX_STDIN_BYTES} bytes`);
    text = buffer.toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the request on stdin: ${errorMessage(err)}`);
  }
  if (text.trim() === '') throw new UsageError('no arguments given and no JSON request on stdin (see "help")');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`invalid request on stdin: not JSON: ${errorMessage(err)}`);
  }
}
