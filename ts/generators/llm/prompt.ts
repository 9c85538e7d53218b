/**
 * The prompt of the LLM generator: the rules every candidate must keep and
 * the ABI it implements (the system message), then the slot, the live
 * profile, the parent's source, why recent siblings failed and what won
 * before (the user message). The rules restate what the gauntlet enforces,
 * so a model that follows them wastes no gauntlet run.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../native/loader.js';
import { ALLOWED_HEADERS } from '../../gauntlet/source-rules.js';
import type { FailedSibling, GenerationContext } from '../types.js';

/** A mutation or prompt that produced a winner before, from the strategy memory. */
export interface PromptHint {
  operator: string;
  description: string;
  /** Times faster than the incumbent it beat. */
  speedup: number;
}

export interface ChatPrompt {
  system: string;
  user: string;
}

/** At most this many failed siblings and winners are quoted: the newest say the most. */
export const MAX_QUOTED_FAILURES = 8;
export const MAX_QUOTED_HINTS = 5;

let abiText: string | undefined;

/** The text of the kernel ABI header, the contract a candidate compiles against. */
export function kernelAbiText(): string {
  abiText ??= readFileSync(path.join(packageRoot, 'cpp', 'include', 'ouroboros', 'kernel_abi.h'), 'utf8');
  return abiText;
}

/**
 * Local headers the parent includes from cpp/kernels/ (the reference kernel
 * includes "reference_math.h"), with their text: a candidate may not
 * include them, so the model must see what to inline.
 */
function parentHeaders(source: string): { name: string; text: string }[] {
  const names = [...source.matchAll(/^\s*#\s*include\s*"([\w.-]+)"/gm)].map((match) => match[1]!);
  return [...new Set(names)].flatMap((name) => {
    const file = path.join(packageRoot, 'cpp', 'kernels', name);
    return existsSync(file) ? [{ name, text: readFileSync(file, 'utf8') }] : [];
  });
}

const SLOT_FUNCTIONS = { step: 'wave_step (the ouro_wave_step_fn)', readout: 'readout (the ouro_readout_fn)' } as const;

function systemMessage(): string {
  return [
    'You improve one compiled kernel of Ouroboros, a wave-physics engine that swaps kernel modules live.',
    'Write the complete C++17 source of one kernel module that is faster than the parent and computes the same results.',
    '',
    'Rules (a candidate that breaks one is rejected before it is benchmarked):',
    '- One file. It implements the ABI below and exports exactly one C symbol:',
    '  extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void);',
    '  Keep everything else in an anonymous namespace.',
    `- Include only these headers: ${[...ALLOWED_HEADERS].map((header) => `<${header}>`).join(', ')}.`,
    '- No threads of your own (no std::thread, std::async, pthread, OpenMP): for parallelism call',
    "  host->parallel_for, which runs chunks on the host's thread pool.",
    '- Never allocate the lattice or any heap memory (no new, malloc, std::vector): the host owns the two time',
    '  levels and the scratch buffer and passes them in. Small fixed-size stack arrays are fine.',
    '- Keep no state between calls; the same inputs must always give the same outputs. No writable global or',
    '  static variables, no thread_local, no code that runs at load (constructors, global objects with one).',
    '- The hardened compile flags stand: no pragma but #pragma GCC ivdep and #pragma GCC unroll N, no _Pragma,',
    '  no #define or #undef of reserved names; attributes only visibility, vector_size, aligned, always_inline,',
    '  noinline and target("avx2") or target("avx512f").',
    '- Preserve precision: f64 stays f64 and f32 stays f32, no fast-math tricks, no approximations. Results are',
    '  compared with an independent oracle and must agree to 4 units in the last place per step; NaN and infinity',
    '  must propagate as IEEE arithmetic says.',
    "- Every loop is bounded by the ABI's arguments (geometry, steps, count, begin/end, ...) or by a constant.",
    '- No files, network, processes, environment, signals, dynamic loading or inline assembly.',
    '- Both functions of the table must work for every geometry the ABI allows (1 to 9 dims, f64 and f32);',
    '  return OURO_ERR_UNSUPPORTED only where the parent does.',
    '',
    'Reply with exactly one ```cpp fenced block holding the whole file, and no other code block.',
    '',
    'The ABI (cpp/include/ouroboros/kernel_abi.h):',
    '```c',
    kernelAbiText().trimEnd(),
    '```',
  ].join('\n');
}

function profileLines(context: GenerationContext): string[] {
  const { profile } = context;
  return [
    `- share of kernel time: ${(profile.share * 100).toFixed(1)}%`,
    `- time per call: mean ${Math.round(profile.meanNs)} ns, p99 ${Math.round(profile.p99Ns)} ns`,
    `- throughput now: ${profile.mlups.toFixed(1)} MLUPS (million lattice updates per second)`,
    `- lattice: extents [${profile.extents.join(', ')}], precision ${profile.precision}, host threads ${profile.threads}`,
  ];
}

function failureLines(failures: readonly FailedSibling[]): string[] {
  const quoted = failures.slice(-MAX_QUOTED_FAILURES);
  if (quoted.length === 0) return ['None yet.'];
  return quoted.map((failure) => `- rejected by the ${failure.gate} gate: ${failure.reason}`);
}

function hintLines(hints: readonly PromptHint[]): string[] {
  return hints
    .slice(0, MAX_QUOTED_HINTS)
    .map((hint) => `- ${hint.operator}: ${hint.description} (${hint.speedup.toFixed(2)}x faster than the kernel it replaced)`);
}

function userMessage(context: GenerationContext, hints: readonly PromptHint[]): string {
  const lines = [
    `Slot to improve: ${context.slot}, the function ${SLOT_FUNCTIONS[context.slot]}.`,
    '',
    'Live profile of this slot:',
    ...profileLines(context),
    '',
    `The parent kernel (archive attempt #${context.parent.attemptId}), to improve on:`,
    '```cpp',
    context.parent.source.trimEnd(),
    '```',
    ...parentHeaders(context.parent.source).flatMap(({ name, text }) => [
      '',
      `The parent includes "${name}", which a candidate may not include: inline what you need from it.`,
      '```cpp',
      text.trimEnd(),
      '```',
    ]),
    '',
    'Recent failed siblings (do not repeat these mistakes):',
    ...failureLines(context.recentFailures),
  ];
  if (hints.length > 0) lines.push('', 'Changes that won before on this slot:', ...hintLines(hints));
  return lines.join('\n');
}

export function buildPrompt(context: GenerationContext, hints: readonly PromptHint[]): ChatPrompt {
  return { system: systemMessage(), user: userMessage(context, hints) };
}

/** The prompt as one text, as the archive stores it. */
export function promptText(prompt: ChatPrompt): string {
  return `[system]\n${prompt.system}\n\n[user]\n${prompt.user}`;
}
