/**
 * PROTOCOL_VERSION is the version of the contract between podman (or our host
 * shim) and the infra container: command names, arguments, output and the
 * state layout. It is an integer, printed as a string like the original shell
 * script did. The original script's last version was 6; this agent is 7.
 * Bump it on any incompatible change; the host shim refuses to drive an infra
 * container of another protocol version.
 *
 * AGENT_VERSION is this program's own release (package.json "version"; a unit
 * test keeps the two equal).
 */
export const PROTOCOL_VERSION = '7';
export const AGENT_VERSION = '0.1.0';

/**
 * Exit code of an agent command given `--expect-protocol N` for another N:
 * the host shim then refuses the infra container instead of misreading it.
 */
export const PROTOCOL_MISMATCH_EXIT_CODE = 3;
