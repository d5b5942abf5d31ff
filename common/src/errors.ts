/**
 * Errors meant for a person or for podman: printed as one `Error: ...` line on
 * stderr, never as a stack trace. Anything else that escapes is a bug and is
 * still printed the same way, so callers never have to parse a stack.
 */
export class UserError extends Error {
  /** Process exit code when this error ends the command. */
  readonly exitCode: number;

  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** Bad command line or input document: exit code 2, like most CLIs. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = 'UsageError';
  }
}

/** One line describing any thrown value, for `Error: ...` output. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** Node's system errors carry a `code` such as ENOENT; this reads it safely. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
