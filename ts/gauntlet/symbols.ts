/**
 * Gate 4: what the built module links against and contains. The gatekeeper
 * (crates/gatekeeper) reads the ELF file: its imports, exports and needed
 * libraries, and the ELF gate's refusals (writable state after RELRO, TLS,
 * load-time code, IFUNC resolvers, sections of the source's naming, data
 * among code, syscall instructions, W+X segments, an executable stack, text
 * relocations, more than 16 MiB). Every undefined dynamic symbol must be on
 * an allowlist (libm, the mem* functions, the compiler's and
 * _FORTIFY_SOURCE's helpers); the module must export ouro_kernel_entry and
 * need only the C and C++ runtime libraries. This catches what the source
 * check misses: calls reached through macros, weak declarations or any
 * other spelling.
 */
import { inspectModule } from './gatekeeper.js';
import type { GateVerdict } from './types.js';

const LIBM = [
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'atan2',
  'sinh',
  'cosh',
  'tanh',
  'exp',
  'exp2',
  'expm1',
  'log',
  'log2',
  'log10',
  'log1p',
  'pow',
  'sqrt',
  'cbrt',
  'hypot',
  'fabs',
  'floor',
  'ceil',
  'round',
  'lround',
  'llround',
  'trunc',
  'rint',
  'lrint',
  'nearbyint',
  'fmod',
  'remainder',
  'fmin',
  'fmax',
  'fdim',
  'copysign',
  'ldexp',
  'frexp',
  'modf',
  'nextafter',
  'sincos',
];

/** Undefined symbols a kernel may import. */
export const ALLOWED_SYMBOLS = new Set([
  ...LIBM,
  ...LIBM.map((name) => `${name}f`),
  'memcpy',
  'memmove',
  'memset',
  'memcmp',
  '__memcpy_chk',
  '__memmove_chk',
  '__memset_chk',
  '__stack_chk_fail',
  // Exceptions unwinding through a kernel's own frames (std::algorithm may throw).
  '__gxx_personality_v0',
  '_Unwind_Resume',
]);

export const ALLOWED_LIBRARIES = new Set(['libstdc++.so.6', 'libm.so.6', 'libgcc_s.so.1', 'libc.so.6', 'ld-linux-x86-64.so.2']);

export interface SymbolDetails {
  undefined: string[];
  forbidden: string[];
  needed: string[];
  problems: string[];
  /** The ELF gate's rule for each of its problems (`writable`, `tls`, `syscall-bytes`, ...). */
  rules: string[];
}

/**
 * The symbol gate on a built module. `trustedRendering`: the caller
 * rendered the source's genome again and got the source back (never the
 * candidate's word), so a syscall-like byte pair inside one of the
 * compiler's instructions is not refused (see inspectModule).
 */
export async function symbolAllowlist(
  modulePath: string,
  { trustedRendering = false }: { trustedRendering?: boolean } = {},
): Promise<Omit<GateVerdict<SymbolDetails>, 'seconds'>> {
  const inspection = await inspectModule(modulePath, trustedRendering);
  const details: SymbolDetails = { undefined: [], forbidden: [], needed: [], problems: [], rules: [] };
  if ('error' in inspection) {
    return { gate: 'symbols', passed: false, reason: `the module could not be inspected: ${inspection.error}`, details };
  }
  const unreadable = inspection.problems.find((problem) => problem.rule === 'elf' || problem.rule === 'size');
  if (unreadable) {
    return { gate: 'symbols', passed: false, reason: unreadable.message, details: { ...details, rules: [unreadable.rule] } };
  }
  details.undefined = inspection.undefined;
  details.forbidden = details.undefined.filter((name) => !ALLOWED_SYMBOLS.has(name));
  details.needed = inspection.needed;
  details.problems = inspection.problems.map((problem) => problem.message);
  details.rules = [...new Set(inspection.problems.map((problem) => problem.rule))];
  if (!inspection.exports.includes('ouro_kernel_entry')) details.problems.push('does not export ouro_kernel_entry');
  for (const library of details.needed.filter((name) => !ALLOWED_LIBRARIES.has(name))) {
    details.problems.push(`needs ${library}, which is not a C or C++ runtime library`);
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
