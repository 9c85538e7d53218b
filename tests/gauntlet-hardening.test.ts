// Gates 2-4 against issue 14's classes 3, 6 and 7: hardening switched off
// from the source, host files named through macros and __has_include, the
// tools' confinement, and the build cache's eviction.
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateCandidate } from '@ouroboros-engine/core';
import { evictCache, hardenedCompile } from '../dist/ts/gauntlet/compile.js';
import { lint } from '../dist/ts/gauntlet/lint.js';
import { allowedDependency, candidateLines, dependencies, preprocess } from '../dist/ts/gauntlet/preprocess.js';
import { sourceFindings, streamFindings } from '../dist/ts/gauntlet/source-rules.js';
import { staticFirewall } from '../dist/ts/gauntlet/static-firewall.js';
import { symbolAllowlist } from '../dist/ts/gauntlet/symbols.js';
import { renderKernel, sample } from '../dist/ts/generators/variant/index.js';

const includeDir = path.resolve('cpp/include');
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
const hostile = (name: string) => readFileSync(path.join('tests/fixtures/hostile', `${name}.cpp`), 'utf8');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-hardening-test-'));
/** Text of /etc/passwd that must never reach a verdict. */
const PASSWD = /root:x:0:0|daemon:x:|\/usr\/sbin\/nologin/;

function fatal(source: string): string[] {
  return sourceFindings(source)
    .filter((finding) => finding.penalty >= 1)
    .map((finding) => finding.message);
}

describe('source rules against hardening overrides (class 7)', () => {
  it.each([
    ['#pragma GCC optimize("no-stack-protector")', /#pragma GCC optimize/],
    ['#pragma GCC push_options', /#pragma GCC push_options/],
    ['%:pragma GCC optimize("O0")', /#pragma|pragma/],
    ['_Pragma("GCC optimize(\\"O0\\")")', /_Pragma/],
    ['__attribute__((optimize("O0"))) void f() {}', /attribute optimize with "O0"/],
    ['__attribute__((no_stack_protector)) void f() {}', /attribute no_stack_protector/],
    ['[[gnu::optimize("no-stack-protector")]] void f() {}', /attribute optimize/],
    ['__attribute__((__constructor__)) void f() {}', /attribute constructor/],
    ['__attribute__((destructor)) void f() {}', /attribute destructor/],
    ['__attribute__((target_clones("avx2","default"))) void f() {}', /attribute target_clones/],
    ['__attribute__((target("arch=native"))) void f() {}', /attribute target with "arch=native"/],
    ['#undef _FORTIFY_SOURCE', /#undef _FORTIFY_SOURCE/],
    ['#define _FORTIFY_SOURCE 0', /#define _FORTIFY_SOURCE/],
    ['thread_local int calls;', /thread_local/],
    ['static __thread int calls;', /__thread/],
    ['#define H "/etc/passwd"\n#include H', /named literally/],
    ['#if __has_include("/etc/passwd")\n#endif', /__has_include/],
    ['%:include "/etc/passwd"', /not one of the allowed headers/],
    ['#include_next <cmath>', /include_next/],
    ['#line 1 "/usr/include/c++/12/cmath"', /#line and line markers/],
    ['# 1 "/usr/include/c++/12/cmath" 3', /#line and line markers/],
    ['%:line 7', /#line and line markers/],
    ['#li\\\nne 1 "/usr/include/stdint.h"', /#line and line markers/],
    ['#define TICKS 1\n#include <cstdint>', /#include after a #define/],
    ['void* f() { return __builtin_thread_pointer(); }', /thread pointer/],
    ['void* f() { return __builtin_frame_address(0); }', /thread pointer, the stack/],
    ['void* f() { return __builtin_return_address(0); }', /the callers/],
    ['int f() { return __builtin_cpu_supports("avx2"); }', /the processor state/],
  ])('refuses %s', (snippet, message) => {
    const messages = fatal(`${snippet}\n${reference}`);
    expect(
      messages.some((text) => message.test(text)),
      messages.join(' | '),
    ).toBe(true);
  });

  it('passes what the variant generator renders: its target, optimize and vector attributes and loop pragmas', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 40; i += 1) {
      const source = renderKernel(sample(random));
      expect(fatal(source), source.slice(0, 200)).toEqual([]);
    }
    expect(fatal('__attribute__((optimize("no-tree-vectorize"))) __attribute__((target("avx512f"))) void f() {}')).toEqual([]);
    expect(fatal('#pragma GCC ivdep\n#pragma GCC unroll 8\ntypedef double V __attribute__((vector_size(16)));')).toEqual([]);
  });

  it("reads the preprocessed stream by the source's own line numbers", () => {
    const output =
      '# 1 "candidate.cpp"\nint a;\n# 1 "/usr/include/x.h" 1\n__attribute__((section("x"))) int b;\n# 3 "candidate.cpp" 2\n__attribute__((section("y"))) int c;';
    const { lines, lineNumbers } = candidateLines(output);
    expect(lines).toEqual(['int a;', '__attribute__((section("y"))) int c;']);
    expect(lineNumbers).toEqual([1, 3]);
    const findings = streamFindings(lines, lineNumbers);
    expect(findings.map((finding) => finding.line)).toContain(3);
    expect(findings.every((finding) => finding.line === 3)).toBe(true);
  });

  it("reads lines a #line directive gave another name as the candidate's: inclusion goes by the markers' flags", () => {
    const output = [
      '# 0 "candidate.cpp"',
      '# 0 "<built-in>"',
      '#define __x86_64__ 1',
      '# 0 "<command-line>"',
      '# 1 "/usr/include/stdc-predef.h" 1 3 4',
      'int predef;',
      '# 0 "<command-line>" 2',
      '# 1 "candidate.cpp"',
      'int a;',
      '# 1 "/usr/include/c++/12/cstdint" 1 3',
      'int header;',
      '# 2 "candidate.cpp" 2',
      'int b;',
      '# 1 "/usr/include/c++/12/bits/stl_algobase.h"',
      'unsigned long long t = __builtin_ia32_rdtsc();',
    ].join('\n');
    const { lines, lineNumbers } = candidateLines(output);
    expect(lines).toEqual(['int a;', 'int b;', 'unsigned long long t = __builtin_ia32_rdtsc();']);
    expect(lineNumbers).toEqual([1, 2, 1]);
    expect(streamFindings(lines, lineNumbers).map((finding) => finding.message)).toEqual([expect.stringMatching(/__builtin_ia32_rdtsc.*after preprocessing/)]);
  });

  it.each(['line-directive-hides-the-clock', 'line-marker-hides-asm', 'line-directive-hides-an-attribute'])(
    '%s: a name pasted by a macro and used after a line directive is refused by the rules, before any tool',
    async (name) => {
      const verdict = await staticFirewall(hostile(name), { threshold: 0.8, includeDir });
      expect(verdict.passed).toBe(false);
      expect(verdict.details.stages).toEqual(['rules']);
      expect(verdict.reason).toMatch(/#line and line markers are forbidden/);
    },
  );

  it('finds what pasting and macros hid from the raw text, after the confined preprocessor', async () => {
    for (const name of ['thread-local-pasted', 'token-pasted-socket']) {
      const verdict = await staticFirewall(hostile(name), { threshold: 0.8, includeDir });
      expect(verdict.passed, name).toBe(false);
      expect(verdict.details.stages, name).toEqual(['rules', 'preprocess']);
      expect(verdict.reason, name).toMatch(/after preprocessing|thread_local/);
    }
  });

  it('runs neither the preprocessor nor the analysers on a source the rules refused', async () => {
    const verdict = await staticFirewall(hostile('pragma-no-stack-protector'), { threshold: 0.8, includeDir });
    expect(verdict.passed).toBe(false);
    expect(verdict.details.stages).toEqual(['rules']);
    expect(verdict.details.lintFindings).toEqual([]);
    expect(verdict.reason).toMatch(/line 7: #pragma GCC optimize/);
  });
});

describe('confined tools (class 6)', () => {
  it.each(['include-host-file-macro', 'has-include-probe'])('%s is refused with no host text anywhere in the verdict', async (name) => {
    const verdict = await evaluateCandidate({ source: hostile(name), cacheDir: path.join(scratch, 'cache') });
    expect(verdict.failedGate).toBe('static');
    expect(JSON.stringify(verdict)).not.toMatch(PASSWD);
  });

  it('refuses a host file named directly', async () => {
    const verdict = await evaluateCandidate({ source: `#include "/etc/passwd"\n${reference}`, cacheDir: path.join(scratch, 'cache') });
    expect(verdict.failedGate).toBe('static');
    expect(JSON.stringify(verdict)).not.toMatch(PASSWD);
  });

  it('stops the preprocessor itself from reading a host file the rules did not see, through a macro or __has_include', async () => {
    const viaMacro = await preprocess('#define HOST "/etc/passwd"\n#include HOST\nint x;\n', includeDir);
    expect(viaMacro.reason).not.toBe('');
    expect(JSON.stringify(viaMacro)).not.toMatch(PASSWD);
    const probe = await preprocess('#if __has_include("/etc/passwd")\nint found_on_host;\n#endif\n', includeDir);
    expect(JSON.stringify(probe)).not.toMatch(PASSWD);
    expect(probe.lines.join('\n')).not.toContain('found_on_host');
  });

  it('refuses #include "/dev/zero" under the memory limit, never reading it', async () => {
    const verdict = await preprocess('#include "/dev/zero"\nint x;\n', includeDir);
    expect(verdict.reason).toMatch(/does not preprocess at line 1|outside the kernel ABI/);
    expect(verdict.confinement?.memoryMiB).toBe(512);
  });

  it('accepts only regular files under the candidate, the ABI headers and the system include directories', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-deps-'));
    writeFileSync(path.join(dir, 'candidate.cpp'), 'int x;\n');
    expect(allowedDependency('candidate.cpp', dir, includeDir)).toBe(true);
    expect(allowedDependency(path.join(includeDir, 'ouroboros/kernel_abi.h'), dir, includeDir)).toBe(true);
    expect(allowedDependency('/usr/include/stdint.h', dir, includeDir)).toBe(true);
    expect(allowedDependency('/etc/passwd', dir, includeDir)).toBe(false);
    expect(allowedDependency('/dev/zero', dir, includeDir)).toBe(false);
    expect(allowedDependency('/usr/include', dir, includeDir)).toBe(false);
    expect(dependencies('candidate.ii: candidate.cpp /usr/include/a\\ b.h \\\n /usr/include/c.h\n')).toEqual([
      'candidate.cpp',
      '/usr/include/a b.h',
      '/usr/include/c.h',
    ]);
  });

  it('counts an analyser that cannot run within its limits as the worst finding, not as silence', async () => {
    const result = await lint(reference, includeDir, { memoryMiB: 64, cpuSeconds: 10, fileMiB: 16 });
    if (result.unavailable.includes('clang-tidy')) return;
    expect(result.findings).toContainEqual(expect.objectContaining({ tool: 'clang-tidy', id: 'analyser-stopped', penalty: 1 }));
  });

  it('compiles under the confinement and records it', async () => {
    const built = await hardenedCompile(reference, { includeDir, timeoutMs: 60_000, cacheDir: path.join(scratch, 'confined'), useCache: false });
    expect(built.passed, built.reason).toBe(true);
    expect(built.details.flags).toContain('-nostartfiles');
    expect(built.details.confinement).toMatchObject({ rlimits: true, noNewPrivs: true, memoryMiB: 1024 });
    expect(['fully-enforced', 'partially-enforced', 'not-enforced']).toContain(built.details.confinement!.landlock);
  });
});

describe('the ELF gate (class 3)', () => {
  it('passes a kernel built with no start files: nothing writable after load, no init or fini', async () => {
    const built = await hardenedCompile(reference, { includeDir, timeoutMs: 60_000, cacheDir: path.join(scratch, 'elf'), useCache: true });
    const verdict = await symbolAllowlist(built.details.modulePath!);
    expect(verdict.reason).toBe('');
    expect(verdict.details.rules).toEqual([]);
  });

  it.each([
    ['writable-global', 'writable'],
    ['global-constructor', 'load-time-code'],
    ['syscall-in-immediate', 'syscall-bytes'],
  ])('%s passes the source rules and is named by the ELF gate (%s)', async (name, rule) => {
    const built = await hardenedCompile(hostile(name), { includeDir, timeoutMs: 60_000, cacheDir: path.join(scratch, 'elf'), useCache: true });
    expect(built.passed, built.reason).toBe(true);
    const verdict = await symbolAllowlist(built.details.modulePath!);
    expect(verdict.passed).toBe(false);
    expect(verdict.details.rules).toContain(rule);
  });
});

describe('the build cache', () => {
  it('is evicted by size, least recently used first', async () => {
    const cache = path.join(scratch, 'evict');
    mkdirSync(cache, { recursive: true });
    const names = ['old.so', 'middle.so', 'recent.so'];
    names.forEach((name, index) => {
      writeFileSync(path.join(cache, name), Buffer.alloc(1000));
      utimesSync(path.join(cache, name), 1_000 + index, 1_000 + index);
    });
    writeFileSync(path.join(cache, 'note.txt'), 'not a module');
    const evicted = await evictCache(cache, 2000);
    expect(evicted.map((file) => path.basename(file))).toEqual(['old.so']);
    expect(names.map((name) => existsSync(path.join(cache, name)))).toEqual([false, true, true]);
    expect(existsSync(path.join(cache, 'note.txt'))).toBe(true);
  });
});
