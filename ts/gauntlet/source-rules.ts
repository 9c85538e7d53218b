/**
 * The static firewall's own reading of a candidate's C++ source: forbidden
 * APIs, headers outside an allowlist or named other than literally, loops
 * whose bound is not derived from the ABI's arguments, and whatever would
 * override the hardened compile from inside the source (pragmas, attributes,
 * redefined reserved macros, thread-local state). A heuristic over the text,
 * not a parser: it stops the obvious, and the symbol allowlist and the
 * sandbox stop the rest. The raw text is read first; `streamFindings` reads
 * the preprocessor's output of the same source (preprocess.ts), where token
 * pasting, macros, digraphs and `_Pragma` can no longer hide anything.
 */

export interface SourceFinding {
  rule: 'forbidden-api' | 'forbidden-header' | 'unbounded-loop' | 'load-time-code' | 'hardening' | 'thread-local';
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
  // Compiler builtins that read the clock, the processor's counters or its random numbers inline, with no header,
  // assembly or symbol for the other rules to see: a kernel's result depends on its inputs alone, and with a clock it
  // can tell the live runner's back-to-back batches from the sandbox's commands (hostile/reads-the-cycle-counter.cpp).
  {
    pattern:
      /\b(?:__builtin_ia32_(?:rdtscp?|rdpmc|rdrand\w*|rdseed\w*|rdpid|rdfsbase\w*|rdgsbase\w*)|__rdtscp?|_rdtsc|__builtin_readcyclecounter|__builtin_readsteadycounter)\b/,
    what: "the processor's clock, counters and random numbers",
  },
  // Builtins that reach the thread pointer (and through it the thread's TCB: glibc keeps the tid there, which is 2 in the
  // sandbox's PID namespace, hostile/thread-pointer-reads-its-tid.cpp), the stack and the callers' frames, the processor's
  // extended state, transactions and timed waits: no kernel needs them, and each tells one process or moment from another.
  {
    pattern:
      /\b(?:__builtin_(?:thread_pointer|set_thread_pointer|frame_address|return_address|extract_return_addr|frob_return_addr|dwarf_cfa|stack_address|apply_args|apply|return|eh_return\w*|unwind_init|setjmp|longjmp|cpu_init|cpu_is|cpu_supports)|__builtin_ia32_(?:xgetbv|rdpkru|wrpkru|wrfsbase\w*|wrgsbase\w*|xbegin|xend|xabort|xtest|rdssp\w*|incssp\w*|umonitor|umwait|tpause|fxsave\w*|fxrstor\w*|xsave\w*|xrstor\w*|ptwrite\w*|serialize)|__seg_fs|__seg_gs)\b/,
    what: 'the thread pointer, the stack, the callers and the processor state',
  },
  { pattern: /\b(?:getenv|setenv|putenv)\s*\(/, what: 'the environment' },
  { pattern: /\bsection\s*\(/, what: 'placing data in chosen sections' },
];

/** The only headers a kernel needs. */
export const ALLOWED_HEADERS = new Set([
  'ouroboros/kernel_abi.h',
  'cmath',
  'math.h',
  'cstdint',
  'stdint.h',
  'cstddef',
  'stddef.h',
  'cstring',
  'string.h',
  'algorithm',
  'array',
  'type_traits',
  'limits',
  'cfloat',
  'float.h',
  'utility',
  'climits',
  'limits.h',
]);

/**
 * Names a loop bound may be derived from: the ABI's arguments and their
 * fields. Variables assigned from these become derived in turn.
 */
const ABI_NAMES = [
  'geometry',
  'state',
  'host',
  'steps',
  'count',
  'begin',
  'end',
  'cells',
  'extents',
  'strides',
  'dims',
  'grain',
  'field',
  'digits',
  'level',
  'extent',
  'stride',
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

/** `%:` is the digraph of `#` (and `%:%:` of `##`): read as `#` followed by a space, keeping offsets. */
function withoutDigraphs(code: string): string {
  return code.replace(/%:/g, '# ');
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
    const bounded = identifiers(condition).some((id) => derived.has(id)) || (match[1] === 'for' && (initDerived || CONSTANT_BOUND.test(condition)));
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

/**
 * Attributes a kernel may carry, with the arguments allowed (null: any).
 * The variant generator uses `visibility("default")`, `vector_size(16)`,
 * `target("avx2" | "avx512f")` for its instruction-set gene and
 * `optimize("no-tree-vectorize")` for its vectorize=off gene: exactly those
 * arguments of `target` and `optimize` pass, since others (`"no-stack-protector"`,
 * `"O0"`, `target_clones`) undo the hardened flags or make IFUNC resolvers.
 */
const ALLOWED_ATTRIBUTES = new Map<string, ReadonlySet<string> | null>([
  ['visibility', new Set(['"default"', '"hidden"'])],
  ['vector_size', null],
  ['aligned', null],
  ['target', new Set(['"avx2"', '"avx512f"'])],
  ['optimize', new Set(['"no-tree-vectorize"'])],
  ['always_inline', null],
  ['noinline', null],
  ['flatten', null],
  ['hot', null],
  ['cold', null],
  ['const', null],
  ['pure', null],
  ['unused', null],
  ['maybe_unused', null],
  ['nodiscard', null],
  ['fallthrough', null],
  ['likely', null],
  ['unlikely', null],
  ['noreturn', null],
  ['nonnull', null],
  ['restrict', null],
  ['may_alias', null],
]);

/** The only pragmas a kernel may use: loop hints that change no flag. */
const ALLOWED_PRAGMA = /^\s*(?:GCC\s+ivdep|GCC\s+unroll\s+\d+|once)\s*$/;

/** Items of an attribute list, split at top-level commas. */
function attributeItems(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i += 1) {
    if (list[i] === '(') depth += 1;
    else if (list[i] === ')') depth -= 1;
    else if (list[i] === ',' && depth === 0) {
      items.push(list.slice(start, i));
      start = i + 1;
    }
  }
  items.push(list.slice(start));
  return items.map((item) => item.trim()).filter(Boolean);
}

function attributeFinding(item: string, line: number): SourceFinding | null {
  const match = /^(?:(?:gnu|clang)\s*::\s*)?_*([A-Za-z]\w*?)_*\s*(?:\(([\s\S]*)\))?$/.exec(item);
  const name = match?.[1] ?? item;
  const allowed = ALLOWED_ATTRIBUTES.get(name);
  const argument = (match?.[2] ?? '').replace(/\s+/g, '');
  if (match && allowed !== undefined && (allowed === null || argument === '' || allowed.has(argument))) return null;
  const why = allowed === undefined ? 'is not an attribute a kernel needs' : `with ${argument} is not allowed`;
  return { rule: 'hardening', line, message: `attribute ${name} ${why} (it can override the hardened flags, place code or run it at load)`, penalty: 1 };
}

const SPLICE = /\\\r?\n/g;

/** Where the character at `index` of `text` with its backslash-newlines spliced is in `text`. */
function unsplicedIndex(text: string, index: number): number {
  let removed = 0;
  for (const match of text.matchAll(SPLICE)) {
    if (match.index - removed >= index) break;
    removed += match[0].length;
  }
  return index + removed;
}

/**
 * What would override the hardened compile from inside the source: pragmas
 * other than loop hints, `_Pragma`, attributes outside ALLOWED_ATTRIBUTES,
 * defining or undefining reserved macros (`_FORTIFY_SOURCE`, `__OPTIMIZE__`),
 * thread-local state, and includes that are not a literal header name.
 * `code` has comments blanked; `line` maps an offset to the source's line.
 */
function hardeningFindings(code: string, line: (index: number) => number): SourceFinding[] {
  const findings: SourceFinding[] = [];
  const text = withoutDigraphs(code);
  for (const match of text.matchAll(/^[ \t]*#[ \t]*pragma\b(.*)$/gm)) {
    if (!ALLOWED_PRAGMA.test(match[1]!)) {
      findings.push({
        rule: 'hardening',
        line: line(match.index),
        message: `#pragma${match[1]!.trimEnd()} is not a loop hint: pragmas may not change the hardened flags`,
        penalty: 1,
      });
    }
  }
  for (const match of text.matchAll(/\b_Pragma\b|\b__pragma\b/g)) {
    findings.push({
      rule: 'hardening',
      line: line(match.index),
      message: `${match[0]} is forbidden: write a loop hint as #pragma GCC ivdep or #pragma GCC unroll N`,
      penalty: 1,
    });
  }
  for (const match of text.matchAll(/\b__attribute(?:__)?\s*\(/g)) {
    const outer = parenthesised(text, match.index + match[0].length - 1);
    const inner = outer ? /^\s*\(([\s\S]*)\)\s*$/.exec(outer.inner) : null;
    if (!inner) {
      findings.push({ rule: 'hardening', line: line(match.index), message: 'an attribute list that does not parse', penalty: 1 });
      continue;
    }
    for (const item of attributeItems(inner[1]!)) {
      const finding = attributeFinding(item, line(match.index));
      if (finding) findings.push(finding);
    }
  }
  for (const match of text.matchAll(/\[\[\s*(?:using\s+\w+\s*:)?([\s\S]*?)\]\]/g)) {
    for (const item of attributeItems(match[1]!)) {
      const finding = attributeFinding(item, line(match.index));
      if (finding) findings.push(finding);
    }
  }
  for (const match of text.matchAll(/\b__declspec\b/g)) {
    findings.push({ rule: 'hardening', line: line(match.index), message: '__declspec is not an attribute a kernel needs', penalty: 1 });
  }
  for (const match of text.matchAll(/^[ \t]*#[ \t]*(define|undef)[ \t]+(_[A-Z_]\w*)/gm)) {
    findings.push({
      rule: 'hardening',
      line: line(match.index),
      message: `#${match[1]} ${match[2]}: reserved macros (such as _FORTIFY_SOURCE) belong to the hardened flags`,
      penalty: 1,
    });
  }
  for (const match of text.matchAll(/\b(?:thread_local|__thread|_Thread_local)\b/g)) {
    findings.push({ rule: 'thread-local', line: line(match.index), message: `${match[0]}: a kernel keeps no state between calls`, penalty: 1 });
  }
  // `#line` and GNU line markers (`# 1 "header" 3`) rename the lines after them, and the rules on the preprocessed
  // stream read only the candidate's lines (hostile/line-directive-hides-the-clock.cpp, line-marker-hides-asm.cpp).
  // Read with backslash-newlines spliced, as the preprocessor reads a directive (`#li\<newline>ne 1 "x"`).
  for (const match of text.replace(SPLICE, '').matchAll(/^[ \t]*#[ \t]*(?:line\b|\d)/gm)) {
    findings.push({
      rule: 'hardening',
      line: line(unsplicedIndex(text, match.index)),
      message: "#line and line markers are forbidden: they give the source's lines to another file",
      penalty: 1,
    });
  }
  for (const match of text.matchAll(/^[ \t]*#[ \t]*(include_next|import|embed)\b|\b__has_include(?:_next)?\b/gm)) {
    findings.push({
      rule: 'forbidden-header',
      line: line(match.index),
      message: `${match[0].trim()} is forbidden: include only the allowed headers, by name`,
      penalty: 1,
    });
  }
  return findings;
}

export function sourceFindings(source: string): SourceFinding[] {
  const code = stripComments(source);
  const findings: SourceFinding[] = [];
  const withStrings = withoutDigraphs(stripComments(source, true));
  for (const match of withStrings.matchAll(/^[ \t]*#[ \t]*include\b[ \t]*(?![ \t<"])(.*)$/gm)) {
    findings.push({
      rule: 'forbidden-header',
      line: lineOf(code, match.index),
      message: `#include ${match[1]!.trim()}: a header must be named literally, as <name> or "name"`,
      penalty: 1,
    });
  }
  for (const match of withStrings.matchAll(/^\s*#\s*include\s*[<"]([^>"]+)[>"]/gm)) {
    if (!ALLOWED_HEADERS.has(match[1]!)) {
      findings.push({
        rule: 'forbidden-header',
        line: lineOf(code, match.index),
        message: `#include <${match[1]}> is not one of the allowed headers (${[...ALLOWED_HEADERS].join(', ')})`,
        penalty: 1,
      });
    }
  }
  // A macro defined before a header is expanded inside the header's lines, which the rules on the preprocessed stream
  // do not read (they read the candidate's own): every header comes first.
  const firstDefine = /^[ \t]*#[ \t]*define\b/m.exec(withStrings);
  if (firstDefine) {
    const tail = withStrings.slice(firstDefine.index);
    for (const match of tail.matchAll(/^[ \t]*#[ \t]*include\b/gm)) {
      findings.push({
        rule: 'forbidden-header',
        line: lineOf(code, firstDefine.index + match.index),
        message: "#include after a #define: headers come before the candidate's macros, which would expand inside them",
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
  findings.push(...hardeningFindings(withStrings, (index) => lineOf(code, index)));
  findings.push(...loopFindings(code, derivedNames(code)));
  return findings.sort((a, b) => a.line - b.line);
}

/**
 * The rules that macros, token pasting and digraphs could hide, on the
 * candidate's own lines of the preprocessor's output (`lines[i]` is the
 * expanded text of source line `lineNumbers[i]`): forbidden APIs and the
 * hardening rules. Headers and loops were judged on the raw text.
 */
export function streamFindings(lines: readonly string[], lineNumbers: readonly number[]): SourceFinding[] {
  const text = lines.join('\n');
  const code = stripComments(text);
  const line = (index: number) => lineNumbers[lineOf(code, index) - 1] ?? 0;
  const findings: SourceFinding[] = [];
  for (const { pattern, what } of FORBIDDEN_APIS) {
    for (const match of code.matchAll(new RegExp(pattern.source, 'g'))) {
      findings.push({
        rule: 'forbidden-api',
        line: line(match.index),
        message: `"${match[0].trim()}" (after preprocessing): ${what} is forbidden`,
        penalty: 1,
      });
    }
  }
  findings.push(...hardeningFindings(stripComments(text, true), line));
  return findings.sort((a, b) => a.line - b.line);
}
