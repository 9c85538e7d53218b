/**
 * Why an archive file cannot be used: it is not a database, belongs to
 * another application, or has a schema this build does not know. The
 * message names the file and what to do; nothing in the file was changed.
 */
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
