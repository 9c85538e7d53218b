/**
 * Reading a file the user named, with a size limit suited to what it is:
 * only a regular file is read (a FIFO would block forever, a device such as
 * /dev/zero never ends), and one over the limit is refused before a byte of
 * it is read. Errors name the flag or key, the path and the limit.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { describe } from '../errors.js';

export class FileReadError extends Error {
  override name = 'FileReadError';
}

/** Reads `file` as bytes if it is a regular file of at most `maxBytes`. */
export function readBoundedFile(name: string, file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before fstat could refuse it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new FileReadError(`${name} = ${describe(file)}: cannot be read (${(error as Error).message})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FileReadError(`${name} = ${describe(file)}: is not a regular file`);
    if (stats.size > maxBytes) {
      throw new FileReadError(`${name} = ${describe(file)}: is ${stats.size} bytes, over the limit of ${maxBytes}`);
    }
    // One byte more than the limit, so a file that grew since fstat is still caught.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length <= maxBytes; length += read) {
      read = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > maxBytes) throw new FileReadError(`${name} = ${describe(file)}: grew past the limit of ${maxBytes} bytes while it was read`);
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Reads `file` as UTF-8 text under the same rules. */
export function readBoundedText(name: string, file: string, maxBytes: number): string {
  return readBoundedFile(name, file, maxBytes).toString('utf8');
}
