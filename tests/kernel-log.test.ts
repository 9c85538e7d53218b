// The kernel's log names the system call a kernel host's seccomp filter
// killed it for; kernel-log.ts finds the host's record by pid.
import { describe, expect, it } from 'vitest';
import { seccompKillOf } from '../dist/ts/modules/kernel-log.js';

const record = (pid: number, syscall: number) =>
  `5,731,23189376026,-;audit: type=1326 audit(1796544662.923:171): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=${pid} ` +
  `comm="ouroboros-kerne" exe="/x/ouroboros-kernel-host" sig=31 arch=c000003e syscall=${syscall} compat=0 ip=0x7f0505566090 code=0x80000000\n`;

describe('a seccomp kill in the kernel log', () => {
  it("is found by the host's pid, the last one winning, and named when it is a common call", () => {
    const records = [record(41, 257), 'traps: something else pid=42 syscall=1 ', record(4242, 41), record(42, 257), record(42, 42)];
    expect(seccompKillOf(records, 42)).toEqual({ number: 42, name: 'connect' });
    expect(seccompKillOf(records, 41)).toEqual({ number: 257, name: 'openat' });
    expect(seccompKillOf([record(7, 999)], 7)).toEqual({ number: 999, name: 'syscall 999' });
  });

  it('is null for a pid with no record, and for a record of another architecture', () => {
    expect(seccompKillOf([record(41, 257)], 4)).toBeNull();
    expect(seccompKillOf([record(41, 257).replace('arch=c000003e', 'arch=40000003')], 41)).toBeNull();
    expect(seccompKillOf([], 41)).toBeNull();
  });
});
