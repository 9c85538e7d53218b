import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateCandidate } from '@ouroboros-engine/core';
import { patchGate } from '../dist/ts/gauntlet/patch-gate.js';
import { sourceFindings } from '../dist/ts/gauntlet/source-rules.js';
import { staticFirewall } from '../dist/ts/gauntlet/static-firewall.js';
import { hardenedCompile } from '../dist/ts/gauntlet/compile.js';
import { symbolAllowlist } from '../dist/ts/gauntlet/symbols.js';
import { decodeReport, ReportDecodeError } from '../dist/ts/gauntlet/report.js';
import { inputFreeReason, interpretRun } from '../dist/ts/gauntlet/interpret.js';
import { runnerArguments, runSandbox } from '../dist/ts/gauntlet/sandbox-run.js';
import { resolveOptions } from '../dist/ts/gauntlet/options.js';
import { bootstrapRatioInterval, compareTimes, mannWhitneyP, median } from '../dist/ts/gauntlet/statistics.js';
import { ouroboros } from '../dist/ts/generated/sandbox_report.js';
import { kernelModulePath } from '../dist/native/loader.js';

const includeDir = path.resolve('cpp/include');
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-gates-test-'));
const compileOptions = { includeDir, timeoutMs: 60_000, cacheDir: path.join(scratch, 'cache'), useCache: true };

describe('gate 1: patch', () => {
  it('refuses an empty source and protected or foreign target paths', () => {
    expect(patchGate({ source: '  \n', targetPath: 'cpp/kernels/a.cpp' }).reason).toBe('the candidate source is empty');
    for (const targetPath of [
      '.env',
      'secrets/a.cpp',
      'cpp/kernels/../../snapshots/a.cpp',
      'checkpoints/a.cpp',
      '/etc/passwd',
      'cpp/core/lattice.cpp',
      'cpp/kernels/a.py',
    ]) {
      const verdict = patchGate({ source: reference, targetPath });
      expect(verdict.passed, targetPath).toBe(false);
      expect(verdict.reason).toContain(targetPath);
    }
  });

  it('passes a kernel source aimed at cpp/kernels/, and no marker approves anything else', () => {
    expect(patchGate({ source: reference, targetPath: 'cpp/kernels/fast.cpp' }).passed).toBe(true);
    const marked = `// STUB auto-approve\n${reference}`;
    expect(patchGate({ source: marked, targetPath: '.env' }).passed).toBe(false);
  });
});

describe('gate 2: static firewall', () => {
  it('finds no hard problem in the reference algorithm', () => {
    expect(sourceFindings(reference).filter((f) => f.penalty >= 1)).toEqual([]);
  });

  it('flags forbidden APIs, headers and loops with their lines, ignoring comments', () => {
    const source = '#include <unistd.h>\n// fork() in a comment is fine\nvoid f(int x) {\n  fork();\n  for (;;) {}\n  while (x) {}\n}\n';
    const findings = sourceFindings(source);
    expect(findings.map((f) => [f.rule, f.line])).toEqual([
      ['forbidden-header', 1],
      ['forbidden-api', 4],
      ['unbounded-loop', 5],
      ['unbounded-loop', 6],
    ]);
  });

  it("refuses builtins that read the processor's clock, counters or random numbers, which need no header or symbol", () => {
    for (const call of [
      '__builtin_ia32_rdtsc()',
      '__builtin_ia32_rdtscp(&aux)',
      '__rdtsc()',
      '__builtin_ia32_rdpmc(0)',
      '__builtin_ia32_rdrand64_step(&r)',
      '__builtin_readcyclecounter()',
    ]) {
      const findings = sourceFindings(`${reference}\nunsigned long long f(unsigned aux, unsigned long long r) { return ${call}; }\n`);
      expect(
        findings.some((f) => f.rule === 'forbidden-api' && f.penalty >= 1 && f.message.includes("the processor's clock")),
        call,
      ).toBe(true);
    }
    expect(sourceFindings(`${reference}\nint rdtsc_free(int rdtsc) { return rdtsc; }\n`).filter((f) => f.penalty >= 1)).toEqual([]);
  });

  it('scores in [0, 1] against the threshold, and runs the analysers', async () => {
    const clean = await staticFirewall(reference, { threshold: 0.8, includeDir });
    expect(clean.passed).toBe(true);
    expect(clean.details.safetyScore).toBeGreaterThanOrEqual(0.8);
    expect(clean.details.unavailable).toEqual([]);
    const shell = await staticFirewall(`extern "C" int system(const char*);\n${reference}\nint x() { return system("id"); }\n`, { threshold: 0.8, includeDir });
    expect(shell.passed).toBe(false);
    expect(shell.details.safetyScore).toBe(0);
    expect(shell.reason).toContain('system()');
    const strict = await staticFirewall(reference, { threshold: 1.01, includeDir });
    expect(strict.passed).toBe(false);
  });

  it('turns an analyser-proven bug into a failing score', async () => {
    const source = readFileSync('tests/fixtures/hostile/uninitialised-read.cpp', 'utf8');
    const verdict = await staticFirewall(source, { threshold: 0.8, includeDir });
    expect(verdict.passed).toBe(false);
    expect(verdict.details.lintFindings.some((f) => f.tool === 'clang-tidy' || f.tool === 'cppcheck')).toBe(true);
  });
});

describe('gate 3: hardened compile', () => {
  it('rejects source that does not compile, with the compiler output', async () => {
    const verdict = await hardenedCompile('int broken( {', compileOptions);
    expect(verdict.passed).toBe(false);
    expect(verdict.reason).toMatch(/^does not compile: /);
    expect(verdict.details.compilerOutput).toContain('error');
    expect(verdict.details.modulePath).toBeNull();
  });

  it('treats warnings as errors and caches a successful build by its hash', async () => {
    const warned = await hardenedCompile('int f() { int unused = 1; return 0; }', compileOptions);
    expect(warned.passed).toBe(false);
    const first = await hardenedCompile(reference, { ...compileOptions, useCache: false });
    expect(first.passed).toBe(true);
    expect(first.details.cached).toBe(false);
    expect(first.details.flags).toEqual(expect.arrayContaining(['-fstack-protector-strong', '-D_FORTIFY_SOURCE=2', '-Werror']));
    const second = await hardenedCompile(reference, compileOptions);
    expect(second.details.cached).toBe(true);
    expect(second.details.modulePath).toBe(first.details.modulePath);
  });
});

describe('gate 4: symbol allowlist', () => {
  it('passes a kernel that imports only allowed symbols', async () => {
    const built = await hardenedCompile(reference, compileOptions);
    const verdict = await symbolAllowlist(built.details.modulePath!);
    expect(verdict.passed).toBe(true);
    expect(verdict.details.forbidden).toEqual([]);
  });

  it('names every import outside the allowlist', async () => {
    const source = `${reference}\nextern "C" int puts(const char*);\nextern "C" int use_puts() { return puts("x"); }\n`;
    const built = await hardenedCompile(source, compileOptions);
    const verdict = await symbolAllowlist(built.details.modulePath!);
    expect(verdict.passed).toBe(false);
    expect(verdict.details.forbidden).toEqual(['puts']);
  });

  it('rejects a file that is not a shared object, and one without the entry', async () => {
    const notElf = path.join(scratch, 'not-elf.so');
    writeFileSync(notElf, 'hello');
    expect((await symbolAllowlist(notElf)).reason).toMatch(/^not a readable ELF shared object/);
    const built = await hardenedCompile('extern "C" int f() { return 1; }', compileOptions);
    expect((await symbolAllowlist(built.details.modulePath!)).reason).toContain('does not export ouro_kernel_entry');
  });
});

function outcome(overrides: object) {
  return { stdout: new Uint8Array(), stderr: '', code: 0, signal: null, timedOut: false, lastPhase: null, seconds: 1, timeoutMs: 5000, ...overrides };
}

describe('gates 5-7: the runner and its report', () => {
  it('decodes a well-formed report and refuses malformed ones', () => {
    const bytes = ouroboros.sandbox.SandboxReport.encode({ schemaVersion: 1, slot: 'step', phases: [{ name: 'load', passed: true, cases: 1 }] }).finish();
    expect(decodeReport(bytes).phases).toEqual([{ name: 'load', passed: true, reason: '', cases: 1, failures: 0, seconds: 0, findings: [] }]);
    expect(() => decodeReport(new Uint8Array())).toThrow(ReportDecodeError);
    expect(() => decodeReport(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(/does not parse/);
    const future = ouroboros.sandbox.SandboxReport.encode({ schemaVersion: 2, phases: [{ name: 'load' }] }).finish();
    expect(() => decodeReport(future)).toThrow('report schema_version = 2: this orchestrator reads 1');
    const shuffled = ouroboros.sandbox.SandboxReport.encode({ schemaVersion: 1, phases: [{ name: 'dojo' }] }).finish();
    expect(() => decodeReport(shuffled)).toThrow('report phase 0 is "dojo": expected "load"');
  });

  it('makes a crash, a timeout or an unparsable report the verdict of the phase that was running', () => {
    const crashed = interpretRun(outcome({ code: null, signal: 'SIGSEGV', lastPhase: 'dojo' }));
    expect(crashed.gates.map((g) => [g.gate, g.passed])).toEqual([
      ['sandbox', true],
      ['dojo', false],
    ]);
    expect(crashed.gates[1]!.reason).toBe('the runner died of SIGSEGV during dojo');
    const hung = interpretRun(outcome({ code: null, signal: 'SIGKILL', timedOut: true, lastPhase: 'differential' }));
    expect(hung.gates[0]!.reason).toBe('killed at the wall-clock limit of 5000 ms during differential');
    const garbage = interpretRun(outcome({ stdout: new Uint8Array([0x0a, 0xff]), lastPhase: 'report' }));
    expect(garbage.gates.at(-1)!.gate).toBe('bench');
    expect(garbage.gates.at(-1)!.reason).toMatch(/does not parse/);
  });

  it('gives a generator a reason that never names the failing input, and keeps the findings in the details', () => {
    const finding =
      'live lattice, 2 dims, f64, single-step calls: u^{n+k} at the sampled cells: 64 of 64 cells differ from the oracle, first cell 17: 4.95e-1 where the oracle has -5.37e-1 (tolerance 1.03e-14)';
    const phase = {
      name: 'differential' as const,
      passed: false,
      reason: '',
      cases: 57,
      failures: 1,
      seconds: 1,
      findings: [finding, 'f32 [7, 5]: wave_step returned status 2 at call 0 (expected 0)'],
    };
    const reason = inputFreeReason(phase);
    expect(reason).toBe(
      'differential: 1 of 57 cases failed; first: u^{n+k} at the sampled cells: # of # cells differ from the oracle, first cell #: # where the oracle has # (tolerance #)',
    );
    expect(reason).not.toMatch(/live lattice|2 dims|4\.95|17/);
    const report = ouroboros.sandbox.SandboxReport.encode({
      schemaVersion: 1,
      slot: 'step',
      seed: 77,
      precision: 'f64',
      phases: [
        { name: 'load', passed: true, cases: 1 },
        { ...phase, findings: phase.findings },
      ],
    }).finish();
    const verdict = interpretRun(outcome({ stdout: report, lastPhase: 'report' }));
    expect(verdict.gates[0]!.reason).toBe(reason);
    expect(verdict.gates[0]!.details).toMatchObject({ seed: 77, phases: [{ name: 'load' }, { name: 'differential', findings: phase.findings }] });
  });

  it('makes a worker that died the verdict of its phase, with its signal', () => {
    const report = ouroboros.sandbox.SandboxReport.encode({
      schemaVersion: 1,
      slot: 'step',
      seed: 3,
      precision: 'f64',
      phases: [
        { name: 'load', passed: true, cases: 1 },
        {
          name: 'differential',
          passed: false,
          cases: 57,
          failures: 57,
          findings: ["f64 [3]: the candidate's worker died of SIGSYS (a forbidden system call)"],
        },
      ],
      workerEnd: { role: 'candidate', phase: 'differential', reason: 'died of SIGSYS (a forbidden system call)', signal: 'SIGSYS' },
    }).finish();
    const verdict = interpretRun(outcome({ stdout: report, lastPhase: 'report' }));
    expect(verdict.gates).toHaveLength(1);
    expect(verdict.gates[0]!.reason).toBe("the candidate's worker died of SIGSYS (a forbidden system call) during differential");
    expect(verdict.gates[0]!.details).toMatchObject({ signal: 'SIGSYS', seed: 3 });
  });

  it('reports a runner that dies at once as a failed sandbox gate', async () => {
    const run = await runSandbox({
      runnerPath: '/bin/false',
      candidatePath: '/nonexistent.so',
      incumbentPath: kernelModulePath('reference'),
      slot: 'step',
      seed: 1,
      precision: 'f64',
      targetExtents: [16, 16],
      heldOutExtents: [9, 9],
      heldOutCells: 81,
      stepsPerCall: 1,
      benchSteps: 1,
      benchSamples: 3,
      dojoWaves: 100,
      threads: 2,
      cpuSeconds: 5,
      memoryMiB: 256,
      timeoutMs: 10_000,
    });
    const verdict = interpretRun(run);
    expect(verdict.gates).toHaveLength(1);
    expect(verdict.gates[0]!.reason).toBe('the runner exited with code 1 before it loaded the candidate');
  });

  it('makes a module that cannot load a failed load phase, not a crash', async () => {
    const notElf = path.join(scratch, 'garbage.so');
    writeFileSync(notElf, 'not a module');
    const verdict = await evaluateCandidate({ source: reference, cacheDir: path.join(scratch, 'cache') });
    expect(verdict.accepted).toBe(true);
    const run = await runSandbox({
      runnerPath: path.resolve('native/sandbox', (await import('../dist/native/loader.js')).targetTriple(), 'ouroboros-sandbox'),
      candidatePath: notElf,
      incumbentPath: kernelModulePath('reference'),
      slot: 'step',
      seed: 1,
      precision: 'f64',
      targetExtents: [16, 16],
      heldOutExtents: [9, 9],
      heldOutCells: 81,
      stepsPerCall: 1,
      benchSteps: 1,
      benchSamples: 3,
      dojoWaves: 100,
      threads: 2,
      cpuSeconds: 5,
      memoryMiB: 512,
      timeoutMs: 30_000,
    });
    const interpreted = interpretRun(run);
    expect(interpreted.gates[0]!.passed).toBe(false);
    expect(interpreted.gates[0]!.reason).toMatch(/^load: .*dlopen/);
  });
});

describe('statistics', () => {
  it('computes medians, a deterministic bootstrap interval and Mann-Whitney p-values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const slow = [10, 11, 12, 13, 14, 15, 16, 17];
    const fast = [5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5];
    expect(mannWhitneyP(fast, slow)).toBeLessThan(0.01);
    expect(mannWhitneyP(slow, slow)).toBeCloseTo(1, 6);
    expect(bootstrapRatioInterval(fast, slow)).toEqual(bootstrapRatioInterval(fast, slow));
    const [low, high] = bootstrapRatioInterval(fast, slow);
    expect(high).toBeLessThan(1);
    expect(low).toBeLessThanOrEqual(high);
    expect(compareTimes('target', [8], 1, fast, slow).verdict).toBe('faster');
    expect(compareTimes('target', [8], 1, slow, fast).verdict).toBe('slower');
  });
});

describe('evaluateCandidate options', () => {
  it('names the parameter, the value and the limit', async () => {
    await expect(evaluateCandidate({ source: reference, dojoWaves: 50 })).rejects.toThrow('dojoWaves = 50: must be an integer in [100, 100000]');
    await expect(evaluateCandidate({ source: reference, safetyThreshold: 2 })).rejects.toThrow('safetyThreshold = 2: must be in [0, 1]');
    await expect(evaluateCandidate({ source: reference, targetExtents: [2, 8] })).rejects.toThrow('targetExtents[0] = 2: must be an integer in [3, 16777216]');
    await expect(evaluateCandidate({ source: reference, slot: 'energy' as 'step' })).rejects.toThrow('slot = "energy": must be "step" or "readout"');
    await expect(evaluateCandidate({ source: reference, incumbent: '/no/such.so' })).rejects.toThrow('incumbent = "/no/such.so": no such file');
    await expect(evaluateCandidate({ source: reference, threads: 0 })).rejects.toThrow('threads = 0: must be an integer in [1, 256]');
    await expect(evaluateCandidate({ source: reference, threads: 1.5 })).rejects.toThrow('threads = 1.5: must be an integer in [1, 256]');
    await expect(evaluateCandidate({ source: reference, cacheMaxBytes: 4096 })).rejects.toThrow(
      `cacheMaxBytes = 4096: must be an integer in [1048576, ${Number.MAX_SAFE_INTEGER}]`,
    );
  });

  it('caps the build cache at 1 GiB unless told, and takes the cap the engine configures', () => {
    expect(resolveOptions({ source: reference }).cacheMaxBytes).toBe(2 ** 30);
    expect(resolveOptions({ source: reference, cacheMaxBytes: 2 ** 24 }).cacheMaxBytes).toBe(2 ** 24);
  });

  it("lends the machine's threads by default and gives each 20 CPU seconds unless told", () => {
    const machine = Math.min(os.availableParallelism(), 256);
    expect(resolveOptions({ source: reference })).toMatchObject({ threads: machine, cpuSeconds: Math.min(3600, 20 * machine) });
    expect(resolveOptions({ source: reference, threads: 3 })).toMatchObject({ threads: 3, cpuSeconds: 60 });
    expect(resolveOptions({ source: reference, threads: 256 }).cpuSeconds).toBe(3600);
    expect(resolveOptions({ source: reference, threads: 3, cpuSeconds: 7 }).cpuSeconds).toBe(7);
    const args = runnerArguments({
      ...resolveOptions({ source: reference, threads: 3 }),
      runnerPath: '',
      candidatePath: 'c.so',
      incumbentPath: 'i.so',
      timeoutMs: 1000,
    });
    expect(args.slice(args.indexOf('--threads'), args.indexOf('--threads') + 2)).toEqual(['--threads', '3']);
  });

  it('has every worker execute the staged kernel host, so a kernel finds the same program calling it as live', () => {
    const args = runnerArguments({ ...resolveOptions({ source: reference }), runnerPath: '', candidatePath: 'c.so', incumbentPath: 'i.so', timeoutMs: 1000 });
    const program = args[args.indexOf('--worker-program') + 1];
    expect(program).toMatch(/\/kernel-host\/[^/]+\/ouroboros-kernel-host$/);
    expect(existsSync(program!)).toBe(true);
  });

  it('runs the sandbox at normal priority unless told idle, and names a priority it does not know', () => {
    const argumentsOf = (priority: 'normal' | 'idle' | undefined) =>
      runnerArguments({ ...resolveOptions({ source: reference }), runnerPath: '', candidatePath: 'c.so', incumbentPath: 'i.so', timeoutMs: 1000, priority });
    expect(resolveOptions({ source: reference }).sandboxPriority).toBe('normal');
    expect(resolveOptions({ source: reference, sandboxPriority: 'idle' }).sandboxPriority).toBe('idle');
    expect(argumentsOf(undefined)).not.toContain('--priority');
    expect(argumentsOf('normal')).not.toContain('--priority');
    expect(argumentsOf('idle').slice(-2)).toEqual(['--priority', 'idle']);
    expect(() => resolveOptions({ source: reference, sandboxPriority: 'low' as 'idle' })).toThrow('sandboxPriority = "low": must be "normal" or "idle"');
  });

  it('calls kernels with the live steps per call and draws the held-out lattice unless one is given', () => {
    const argumentsOf = (options: Parameters<typeof resolveOptions>[0]) =>
      runnerArguments({ ...resolveOptions(options), runnerPath: '', candidatePath: 'c.so', incumbentPath: 'i.so', timeoutMs: 1000 });
    const after = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
    const batched = argumentsOf({ source: reference, stepsPerCall: 8 });
    expect(after(batched, '--steps-per-call')).toBe('8');
    expect(after(argumentsOf({ source: reference }), '--steps-per-call')).toBe('1');
    expect(after(batched, '--held-out')).toBeUndefined();
    expect(after(batched, '--held-out-cells')).toBe('8192');
    const fixed = argumentsOf({ source: reference, heldOutExtents: [9, 7] });
    expect(after(fixed, '--held-out')).toBe('9,7');
    expect(after(fixed, '--held-out-cells')).toBeUndefined();
    expect(() => resolveOptions({ source: reference, stepsPerCall: 0 })).toThrow(/stepsPerCall = 0: must be an integer in \[1, 1024\]/);
    expect(() => resolveOptions({ source: reference, stepsPerCall: 1025 })).toThrow(/stepsPerCall/);
  });

  it("passes the live lattice's r^2 to the runner when given, and names one the live lattice cannot hold", () => {
    const argumentsOf = (options: Parameters<typeof resolveOptions>[0]) =>
      runnerArguments({ ...resolveOptions(options), runnerPath: '', candidatePath: 'c.so', incumbentPath: 'i.so', timeoutMs: 1000 });
    const after = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
    expect(after(argumentsOf({ source: reference, liveCourant2: 0.36 }), '--live-courant2')).toBe('0.36');
    expect(after(argumentsOf({ source: reference }), '--live-courant2')).toBeUndefined();
    // The limit is the live lattice's: 1/2 on the default 2-D target, 1/3 on a 3-D live lattice.
    expect(() => resolveOptions({ source: reference, liveCourant2: 0.5 })).toThrow("liveCourant2 = 0.5: must be in (0, 1/2) on the live lattice's 2 axes");
    expect(() => resolveOptions({ source: reference, liveExtents: [9, 9, 9], liveCourant2: 0.4 })).toThrow(/liveCourant2 = 0.4: must be in \(0, 1\/3\)/);
    expect(() => resolveOptions({ source: reference, liveCourant2: 0 })).toThrow(/liveCourant2 = 0/);
    expect(() => resolveOptions({ source: reference, liveCourant2: Number.NaN })).toThrow(/liveCourant2/);
  });

  it("passes the live runner's longest batch to the runner, and names one beyond its limit", () => {
    const argumentsOf = (options: Parameters<typeof resolveOptions>[0]) =>
      runnerArguments({ ...resolveOptions(options), runnerPath: '', candidatePath: 'c.so', incumbentPath: 'i.so', timeoutMs: 1000 });
    const after = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
    expect(after(argumentsOf({ source: reference, maxBatchSteps: 256 }), '--max-batch-steps')).toBe('256');
    expect(after(argumentsOf({ source: reference }), '--max-batch-steps')).toBe('64');
    expect(() => resolveOptions({ source: reference, maxBatchSteps: 0 })).toThrow('maxBatchSteps = 0: must be an integer in [1, 1024]');
    expect(() => resolveOptions({ source: reference, maxBatchSteps: 2048 })).toThrow(/maxBatchSteps = 2048/);
  });
});
