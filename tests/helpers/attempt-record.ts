/** The archive's attempt record builder, for suites that read records without an archive. */
export { attemptRecord } from '../../dist/ts/archive/attempt-record.js';
