import { writeSync } from 'node:fs';

/**
 * JSON on stdout, one document per command. Written synchronously so that a
 * `process.exit` right after cannot truncate it when stdout is a pipe.
 */
export function printJson(value: unknown): void {
  writeAll(1, `${JSON.stringify(value)}\n`);
}

export function printError(message: string): void {
  writeAll(2, `Error: ${message}\n`);
}

function writeAll(fd: number, text: string): void {
  const buffer = Buffer.from(text);
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(fd, buffer, offset);
    } catch (err) {
      // A non-blocking pipe may be full; anything else (EPIPE) means the reader is gone.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}
