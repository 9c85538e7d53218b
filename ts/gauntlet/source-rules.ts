/**
 * The static firewall's own reading of a candidate's C++ source: forbidden
 * APIs, headers outside an allowlist, and loops whose bound is not derived
 * from the ABI's arguments. A heuristic over the text, not a parser: it
 * stops the obvious, and the symbol allowlist and the sandbox stop the rest.
 */

export interface SourceFinding {
  rule: 'forbidden-api' | 'forbidden-header' | 'unbounded-loop' | 'load-time-code';
  line: number;
  message: string;
  /** How much of the safety score this finding costs (1 = all of it). */
  penalty: number;
}

interface ForbiddenApi {
  pattern: RegExp;
  what: string;
}

const FORBIDDEN_APIS: ForbiddenApi[] = [
  { pattern: /\bsystem\s*\(/, what: 'system() runs a shell' },
  { pattern: /\bexec(?:l|lp|le|v|vp|vpe|ve|veat)\s*\(/, what: 'exec* replaces the process' },
  { pattern: /\b(?:popen|posix_spawnp?)\b/, what: 'popen/posix_spawn start processes' },
  { pattern: /\b(?:fork|vfork|clone|clone3)\s*\(/, what: 'fork/clone make processes' },
  { pattern: /\b(?:dlopen|dlsym|dlmopen|dlvsym)\b/, what: 'dynamic loading' },
  { pattern: /\b(?:fopen|freopen|fdopen|open|openat|creat|unlink|remove|rename|truncate)\s*\(/, what: 'file access' },
  { pattern: /std::(?:i|o)?fstream\b|std::filesystem\b/, what: 'file streams' },
  { pattern: /\b(?:socket|connect|bind|listen|accept|sendto|recvfrom|getaddrinfo|gethostbyname)\s*\(/, what: 'network access' },
  { pattern: /\bpthread_\w+|std::(?:j?thread|async|this_thread)\b/, what: 'threads (the host lends its pool through parallel_for)' },
  { pattern: /\bsyscall\s*\(/, what: 'raw system calls' },
  { pattern: /\b(?:asm|__asm__|__asm)\b/, what: 'inline assembly' },
  { pattern: /\b(?:sleep|usleep|nanosleep|clock_nanosleep)\s*\(/, what: 'sleeping' },
  { pattern: /\b(?:kill|raise|signal|sigaction|ptrace|setjmp|longjmp)\s*\(/, what: 'signals and non-local jumps' },
  { pattern: /\b(?:mmap|mprotect|munmap|brk|sbrk)\s*\(/, what: 'memory mapping' },
  { pattern: /\b(?:getenv|setenv|putenv)\s*\(/, what: 'the environment' },
  { pattern: /\bsection\s*\(/, what: 'placing data in chosen sections' },
];

/** The only headers a kernel needs. */
export const ALLOWED_HEADERS = new Set([
  'ouroboros/kernel_abi.h', 'cmath', 'math.h', 'cstdint', 'stdint.h', 'cstddef', 'stddef.h', 'cstring', 'string.h',
  'algorithm', 'array', 'type_traits', 'limits', 'cfloat', 'float.h', 'utility', 'climits', 'limits.h',
]);

/**
 * Names a loop bound may be derived from: the ABI's arguments and their
 * fields. Variables assigned from these become derived in turn.
 */
const ABI_NAMES = [
  'geometry', 'state', 'host', 'steps', 'count', 'begin', 'end', 'cells', 'extents', 'strides', 'dims', 'grain',
  'field', 'digits', 'level', 'extent', 'stride',
];

/**
 * Blanks comments, and string literals too unless `keepStrings`, keeping
 * line breaks for line numbers.
 */
export function stripComments(source: string, keepStrings = false): string {
  return source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (match) => {
    if (match.startsWith('"') || match.startsWith("'")) {
      return keepStrings ? match : match[0] + ' '.repeat(match.length - 2) + match[0];
    }
    return match.replace(/[^\n]/g, ' ');
  });
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** The text inside the parentheses that open at `open`, or null if unbalanced. */
function parenthesised(text: string, open: number): { inner: string; close: number } | null {
  let depth = 0;
  for (let i = open; i < text.length; i += 1) {
    if (text[i] === '(') depth += 1;
    else if (text[i] === ')' && --depth === 0) return { inner: text.slice(open + 1, i), close: i };
  }
  return null;
}

function identifiers(text: string): string[] {
  return text.match(/[A-Za-z_]\w*/g) ?? [];
}

/** ABI names, variables typed with an ouro_ type, and (to a fixpoint) variables assigned from derived ones. */
function derivedNames(code: string): Set<string> {
  const derived = new Set(ABI_NAMES);
  for (const match of code.matchAll(/\bouro_\w+\s*(?:const\s*)?[&*]*\s*(?:const\s*)?([A-Za-z_]\w*)/g)) derived.add(match[1]!);
  const assignments = [...code.matchAll(/([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*(?:[-+*/%]?=)(?!=)\s*([^;{}]+)/g)];
  let grew = true;
  while (grew) {
    grew = false;
    for (const [, name, value] of assignments) {
      if (!derived.has(name!) && identifiers(value!).some((id) => derived.has(id))) {
        derived.add(name!);
        grew = true;
      }
    }
  }
  return derived;
}

const CONSTANT_BOUND = /^\s*[A-Za-z_]\w*\s*(?:<|<=|>|>=|!=)\s*(?:\d+[uUlL]*|[A-Z][A-Z0-9_]*)\s*$/;
const ALWAYS_TRUE = /^\s*(?:1|true|!0|!false|1u)?\s*$/;

function loopFindings(code: string, derived: Set<string>): SourceFinding[] {
  const findings: SourceFinding[] = [];
  for (const match of code.matchAll(/\b(for|while)\s*\(/g)) {
    const group = parenthesised(code, match.index + match[0].length - 1);
    const line = lineOf(code, match.index);
    if (!group) {
      findings.push({ rule: 'unbounded-loop', line, message: `${match[1]} loop with unbalanced parentheses`, penalty: 1 });
      continue;
    }
    const parts = match[1] === 'for' ? group.inner.split(';') : ['', group.inner, ''];
    if (match[1] === 'for' && parts.length !== 3) continue; // a range-for: bounded by its range
    const [init = '', condition = ''] = parts;
    if (ALWAYS_TRUE.test(condition)) {
      findings.push({ rule: 'unbounded-loop', line, message: `${match[1]} loop with no condition (runs forever)`, penalty: 1 });
      continue;
    }
    const initDerived = identifiers(init).some((id) => derived.has(id));
    const bounded =
      identifiers(condition).some((id) => derived.has(id)) ||
      (match[1] === 'for' && (initDerived || CONSTANT_BOUND.test(condition)));
    if (!bounded) {
      findings.push({
        rule: 'unbounded-loop',
        line,
        message: `${match[1]} loop condition "${condition.trim()}" is not bounded by the ABI's arguments (geometry, steps, count, begin/end, ...) or a constant`,
        penalty: 1,
      });
    }
  }
  return findings;
}

export function sourceFindings(source: string): SourceFinding[] {
  const code = stripComments(source);
  const findings: SourceFinding[] = [];
  for (const match of stripComments(source, true).matchAll(/^\s*#\s*include\s*[<"]([^>"]+)[>"]/gm)) {
    if (!ALLOWED_HEADERS.has(match[1]!)) {
      findings.push({
        rule: 'forbidden-header',
        line: lineOf(code, match.index),
        message: `#include <${match[1]}> is not one of the allowed headers (${[...ALLOWED_HEADERS].join(', ')})`,
        penalty: 1,
      });
    }
  }
  for (const { pattern, what } of FORBIDDEN_APIS) {
    const global = new RegExp(pattern.source, 'g');
    for (const match of code.matchAll(global)) {
      findings.push({ rule: 'forbidden-api', line: lineOf(code, match.index), message: `"${match[0].trim()}": ${what} is forbidden`, penalty: 1 });
    }
  }
  for (const match of code.matchAll(/\bconstructor\b|\binit_priority\b/g)) {
    findings.push({ rule: 'load-time-code', line: lineOf(code, match.index), message: 'code that runs when the module loads', penalty: 0.1 });
  }
  findings.push(...loopFindings(code, derivedNames(code)));
  return findings.sort((a, b) => a.line - b.line);
}
