/**
 * What the kernel recorded about a kernel host's seccomp kill. A host
 * killed by its filter (SIGSYS) cannot say which system call it made: the
 * kill is immediate. The kernel logs each such kill as an audit record
 * (type 1326, SECCOMP) with the pid and the system call number, in its log
 * whenever `kernel.seccomp.actions_logged` holds `kill_process` (the
 * default); this reads it from /dev/kmsg, which needs CAP_SYSLOG or
 * `kernel.dmesg_restrict = 0`. Where the log cannot be read, the syscall is
 * simply unknown (null).
 *
 * Landlock denials are not found this way: Landlock logs them (Linux 6.15+)
 * only through an audit subsystem that is enabled, which it is not on the
 * machines this was written on, and the host cannot see them either (the
 * denied call just fails with EACCES inside the kernel's own code).
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';

const KMSG = '/dev/kmsg';
/** One kmsg record is at most this long (the kernel's own limit is 1 KiB of text plus its prefix). */
const RECORD_BYTES = 8192;
/** A seccomp record: `audit: type=1326 ... pid=<pid> ... syscall=<nr>`, on x86-64 (arch=c000003e). */
const SECCOMP_RECORD = /audit: type=1326 .*\bpid=(\d+) .*\barch=c000003e syscall=(\d+) /;

/** x86-64 system call names for the numbers a hostile kernel is likeliest to try. */
const SYSCALL_NAMES: Record<number, string> = {
  0: 'read',
  1: 'write',
  2: 'open',
  9: 'mmap',
  10: 'mprotect',
  41: 'socket',
  42: 'connect',
  56: 'clone',
  57: 'fork',
  59: 'execve',
  62: 'kill',
  82: 'rename',
  87: 'unlink',
  101: 'ptrace',
  257: 'openat',
  435: 'clone3',
};

/** A system call a host's seccomp filter killed it for. */
export interface DeniedSyscall {
  number: number;
  /** Its x86-64 name when it is one of the common ones, else `syscall <number>`. */
  name: string;
}

/** The last seccomp kill of `pid` among kernel log lines `records`, or null. */
export function seccompKillOf(records: readonly string[], pid: number): DeniedSyscall | null {
  let found: DeniedSyscall | null = null;
  for (const record of records) {
    const match = SECCOMP_RECORD.exec(record);
    if (match === null || Number(match[1]) !== pid) continue;
    const number = Number(match[2]);
    found = { number, name: SYSCALL_NAMES[number] ?? `syscall ${number}` };
  }
  return found;
}

/** Every record in the kernel log, oldest first; empty when it cannot be read. */
export function kernelLogRecords(): string[] {
  let fd: number;
  try {
    fd = openSync(KMSG, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return [];
  }
  const records: string[] = [];
  const buffer = Buffer.alloc(RECORD_BYTES);
  try {
    for (;;) {
      try {
        const bytes = readSync(fd, buffer, 0, buffer.length, null);
        if (bytes === 0) break;
        records.push(buffer.toString('utf8', 0, bytes));
      } catch (error) {
        // EPIPE: records were overwritten while reading; the next read goes on from the oldest left.
        if ((error as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return records;
}
