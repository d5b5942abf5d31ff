import { isIP } from 'node:net';
import { UsageError } from './errors.js';

/*
 * Validation of every name that ends up in a path, an environment variable or
 * CNI_ARGS. The rules are those of the CNI spec (and libcni's
 * ValidateContainerID / ValidateNetworkName / ValidateInterfaceName), plus
 * length limits: our state and cache file names are built from these names and
 * a file name cannot exceed 255 bytes.
 */

const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const MAX_CONTAINER_ID_LENGTH = 128;
export const MAX_NETWORK_NAME_LENGTH = 100;
/** IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_INTERFACE_NAME_LENGTH = 15;
export const MAX_ARG_VALUE_LENGTH = 253;

function show(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return JSON.stringify(shown);
}

function checkCniName(kind: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new UsageError(`invalid ${kind} ${show(value ?? '')}: must not be empty`);
  }
  if (value.length > maxLength) {
    throw new UsageError(`invalid ${kind} ${show(value)}: longer than ${maxLength} characters`);
  }
  if (!CNI_NAME.test(value)) {
    throw new UsageError(
      `invalid ${kind} ${show(value)}: must start with a letter or digit and contain only letters, digits, '_', '.' and '-'`,
    );
  }
  return value;
}

export function validateContainerId(value: unknown): string {
  return checkCniName('container ID', value, MAX_CONTAINER_ID_LENGTH);
}

export function validateNetworkName(value: unknown): string {
  return checkCniName('network name', value, MAX_NETWORK_NAME_LENGTH);
}

export function validateInterfaceName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new UsageError(`invalid interface name ${show(value ?? '')}: must not be empty`);
  }
  if (value.length > MAX_INTERFACE_NAME_LENGTH) {
    throw new UsageError(
      `invalid interface name ${show(value)}: longer than ${MAX_INTERFACE_NAME_LENGTH} characters`,
    );
  }
  if (value === '.' || value === '..') {
    throw new UsageError(`invalid interface name ${show(value)}: must not be '.' or '..'`);
  }
  // The kernel refuses '/', ':' and whitespace in link names (dev_valid_name).
  if (/[/:\s]/u.test(value) || /[\p{Cc}]/u.test(value)) {
    throw new UsageError(
      `invalid interface name ${show(value)}: must not contain '/', ':', whitespace or control characters`,
    );
  }
  return value;
}

/**
 * A value that goes into CNI_ARGS (`K=V;K=V`): a ';' or '=' would inject
 * another key, and control characters have no business in an environment
 * variable.
 */
export function validateCniArgValue(kind: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new UsageError(`invalid ${kind} ${show(value)}: must be a string`);
  }
  if (value.length > MAX_ARG_VALUE_LENGTH) {
    throw new UsageError(`invalid ${kind} ${show(value)}: longer than ${MAX_ARG_VALUE_LENGTH} characters`);
  }
  if (/[;=]/.test(value) || /[\p{Cc}]/u.test(value)) {
    throw new UsageError(`invalid ${kind} ${show(value)}: must not contain ';', '=' or control characters`);
  }
  return value;
}

/** Returns the address in canonical text form. */
export function validateIpAddress(value: unknown): string {
  if (typeof value !== 'string' || isIP(value) === 0) {
    throw new UsageError(`invalid IP address ${show(value)}`);
  }
  return value;
}

export function validateMacAddress(value: unknown): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) {
    throw new UsageError(`invalid MAC address ${show(value)}: expected six hex bytes separated by ':'`);
  }
  return value.toLowerCase();
}
