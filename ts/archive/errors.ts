/**
 * Why an archive file cannot be used: it is not a database, belongs to
 * another application, or has a schema this build does not know. The
 * message names the file and what to do; nothing in the file was changed.
 */
/**
 * The code of `error` when it says the archive's storage failed, so that
 * outcomes can no longer be recorded; null for any other error. SQLite: a
 * full disk, an I/O error, a file gone read-only or corrupt. PostgreSQL
 * (postgres-connection.ts): no answer in time or a lost connection
 * (POSTGRES_UNREACHABLE), or an SQLSTATE of class 08 (connection), 53
 * (out of disk or memory), 57P (the server shut down), 58 (I/O) or XX
 * (corruption).
 */
export function storageFailureCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (/^SQLITE_(FULL|IOERR|READONLY|CORRUPT|CANTOPEN|NOTADB)/.test(code)) return code;
  if (!(error instanceof Error) || error.name !== 'PostgresError') return null;
  return code === 'POSTGRES_UNREACHABLE' || /^(08|53|57P|58|XX)/.test(code) ? code : null;
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
