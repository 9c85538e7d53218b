/**
 * CPU seconds used by this process's child processes (the compiler, the
 * analysers, the sandbox runs) that have ended: cutime + cstime of
 * /proc/self/stat, which the kernel adds to when a child is reaped (with
 * what that child had reaped of its own). A child still running is counted
 * when it ends. 0 where there is no procfs.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/PID/stat times on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Fields after the command's closing parenthesis, 0-based: cutime is field 16 of stat(5), cstime 17. */
const CUTIME_INDEX = 13;
const CSTIME_INDEX = 14;

export function childCpuSeconds(): number {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return 0;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[CUTIME_INDEX]) + Number(fields[CSTIME_INDEX])) / CLOCK_TICKS_PER_SECOND;
}
