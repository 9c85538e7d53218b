/**
 * Gate 4: what the built module links against. Every undefined dynamic
 * symbol must be on an allowlist (libm, the mem* functions, the compiler's
 * and _FORTIFY_SOURCE's helpers); the module must export ouro_kernel_entry,
 * need only the C and C++ runtime libraries, and have no writable-and-
 * executable segment, no executable stack and no text relocations. This
 * catches what the source check misses: calls reached through macros,
 * weak declarations or any other spelling.
 */
import { execFile } from 'node:child_process';
import type { GateVerdict } from './types.js';

const LIBM = [
  'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'sinh', 'cosh', 'tanh', 'exp', 'exp2', 'expm1', 'log', 'log2',
  'log10', 'log1p', 'pow', 'sqrt', 'cbrt', 'hypot', 'fabs', 'floor', 'ceil', 'round', 'lround', 'llround', 'trunc',
  'rint', 'lrint', 'nearbyint', 'fmod', 'remainder', 'fmin', 'fmax', 'fdim', 'copysign', 'ldexp', 'frexp', 'modf',
  'nextafter', 'sincos',
];

/** Undefined symbols a kernel may import. */
export const ALLOWED_SYMBOLS = new Set([
  ...LIBM,
  ...LIBM.map((name) => `${name}f`),
  'memcpy', 'memmove', 'memset', 'memcmp',
  '__memcpy_chk', '__memmove_chk', '__memset_chk',
  '__stack_chk_fail', '__cxa_finalize', '__cxa_atexit', '__gmon_start__',
  '_ITM_deregisterTMCloneTable', '_ITM_registerTMCloneTable',
  '__cxa_guard_acquire', '__cxa_guard_release', '__cxa_guard_abort',
  '__gxx_personality_v0', '_Unwind_Resume',
]);

export const ALLOWED_LIBRARIES = new Set(['libstdc++.so.6', 'libm.so.6', 'libgcc_s.so.1', 'libc.so.6', 'ld-linux-x86-64.so.2']);

export interface SymbolDetails {
  undefined: string[];
  forbidden: string[];
  needed: string[];
  problems: string[];
}

function run(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 8 << 20, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ ok: !error, stdout, stderr: stderr || (error?.message ?? '') }),
    );
  });
}

/** `memcpy@GLIBC_2.14 (GLIBC_2.14)` -> `memcpy`. */
function bareName(symbol: string): string {
  return symbol.split('@')[0]!.trim();
}

export async function symbolAllowlist(modulePath: string): Promise<Omit<GateVerdict<SymbolDetails>, 'seconds'>> {
  const [undefinedSymbols, defined, dynamic, segments] = await Promise.all([
    run('nm', ['-D', '--undefined-only', '--format=posix', modulePath]),
    run('nm', ['-D', '--defined-only', '--format=posix', modulePath]),
    run('readelf', ['-dW', modulePath]),
    run('readelf', ['-lW', modulePath]),
  ]);
  const details: SymbolDetails = { undefined: [], forbidden: [], needed: [], problems: [] };
  if (!undefinedSymbols.ok || !defined.ok || !dynamic.ok || !segments.ok) {
    const why = [undefinedSymbols, defined, dynamic, segments].find((r) => !r.ok)?.stderr.trim();
    return { gate: 'symbols', passed: false, reason: `not a readable ELF shared object: ${why}`, details };
  }
  details.undefined = undefinedSymbols.stdout.split('\n').filter(Boolean).map((line) => bareName(line.split(' ')[0]!));
  details.forbidden = details.undefined.filter((name) => !ALLOWED_SYMBOLS.has(name));
  details.needed = [...dynamic.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  const exports = defined.stdout.split('\n').map((line) => bareName(line.split(' ')[0] ?? ''));
  if (!exports.includes('ouro_kernel_entry')) details.problems.push('does not export ouro_kernel_entry');
  for (const library of details.needed.filter((name) => !ALLOWED_LIBRARIES.has(name))) {
    details.problems.push(`needs ${library}, which is not a C or C++ runtime library`);
  }
  if (/TEXTREL/.test(dynamic.stdout)) details.problems.push('has text relocations');
  // "LOAD 0x.. 0x.. 0x.. 0x.. 0x.. R E 0x1000": the flags sit before the alignment.
  for (const match of segments.stdout.matchAll(/^\s*(LOAD|GNU_STACK)\s+(?:0x[0-9a-f]+\s+){5}([RWE ]+?)\s+0x[0-9a-f]+\s*$/gim)) {
    const flags = match[2]!.replace(/\s/g, '');
    if (match[1] === 'GNU_STACK' && flags.includes('E')) details.problems.push('asks for an executable stack');
    if (match[1] === 'LOAD' && flags.includes('W') && flags.includes('E')) details.problems.push('has a writable and executable segment');
  }
  if (details.forbidden.length > 0) {
    return {
      gate: 'symbols',
      passed: false,
      reason: `imports symbols outside the allowlist: ${details.forbidden.join(', ')}`,
      details,
    };
  }
  if (details.problems.length > 0) return { gate: 'symbols', passed: false, reason: details.problems.join('; '), details };
  return { gate: 'symbols', passed: true, reason: '', details };
}
