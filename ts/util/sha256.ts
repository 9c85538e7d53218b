/** sha256 digests as lowercase hex: of bytes, and of a file's content read whole. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function fileSha256(file: string): string {
  return sha256Hex(readFileSync(file));
}
