/**
 * Why an archive file cannot be used: it is not a database, belongs to
 * another application, or has a schema this build does not know. The
 * message names the file and what to do; nothing in the file was changed.
 */
/**
 * The SQLite result code of `error` when it says the archive's storage
 * failed (a full disk, an I/O error, a file gone read-only or corrupt), so
 * that outcomes can no longer be recorded; null for any other error.
 */
export function storageFailureCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  return /^SQLITE_(FULL|IOERR|READONLY|CORRUPT|CANTOPEN|NOTADB)/.test(code) ? code : null;
}

export class ArchiveError extends Error {
  constructor(
    message: string,
    /** The archive file as given to `Archive.open`. */
    readonly file: string,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}
