/**
 * Probe-loads a kernel module in a child process before the core dlopens it,
 * so that a module whose constructor crashes or hangs, or whose table is
 * malformed, takes down only the child. The child (probe-child.ts) calls the
 * entry function through ffi-rs and checks the table.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProbeReport } from './probe-child.js';
import type { SelfTestShape } from './self-test.js';

/** How long a child may take to load a module and report, by default. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

const childScript = fileURLToPath(new URL('./probe-child.js', import.meta.url));

/**
 * Resolves with null when the module passed (table, and self-test when a
 * shape is given), else with why it did not. Never rejects for the module's sake.
 */
export async function probeModule(file: string, shape: SelfTestShape | null, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<string | null> {
  const args = shape ? [childScript, file, JSON.stringify(shape)] : [childScript, file];
  const outcome = await runProbeChild<ProbeReport>(args, timeoutMs, {
    hang: 'loading it did not finish within {ms} ms in the probe process (a constructor that hangs?)',
    crash: 'loading it killed the probe process with {signal} (a constructor or entry function that crashes)',
  });
  return 'report' in outcome ? outcome.report.defect : outcome.defect;
}

/** What a probe child reported on its last line of stdout, or why it could not. */
export type ProbeOutcome<Report> = { report: Report } | { defect: string };

/**
 * Runs `node ...args` as a throwaway child that loads something untrusted and
 * prints one JSON report line. A crash or a hang kills only the child: it
 * becomes a defect worded by `messages` ({ms} and {signal} are filled in).
 */
export function runProbeChild<Report>(args: string[], timeoutMs: number, messages: { hang: string; crash: string }): Promise<ProbeOutcome<Report>> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ defect: `the probe process could not start: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        resolve({ defect: messages.hang.replace('{ms}', String(timeoutMs)) });
      } else if (signal) {
        resolve({ defect: messages.crash.replace('{signal}', signal) });
      } else if (code !== 0) {
        resolve({ defect: `the probe process exited with status ${code}: ${stderr.trim().split('\n').pop() ?? ''}` });
      } else {
        resolve(parseReport<Report>(stdout));
      }
    });
  });
}

function parseReport<Report>(stdout: string): ProbeOutcome<Report> {
  try {
    return { report: JSON.parse(stdout.trim().split('\n').pop() ?? '') as Report };
  } catch {
    return { defect: `the probe process printed no report (got ${JSON.stringify(stdout.slice(0, 200))})` };
  }
}
