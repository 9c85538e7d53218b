/**
 * The variant kernel's C++ lives in cpp/variant/, in files a compiler and
 * ctest see (cpp/tests compiles each one and a few whole renderings). This
 * module reads those fragments and fills their placeholders, and holds the
 * parts of a rendering no gene changes: the includes, the helpers, the
 * generic N-D path and the dispatch around the kernel table.
 *
 * A placeholder is an identifier `VARIANT_<NAME>` (the standalone check in
 * cpp/tests defines each as a macro). It takes the text the renderer gives
 * it, with two rules that keep the renderings byte for byte what they were
 * when the C++ sat in template strings:
 * - a line holding only a placeholder takes a block of lines, each indented
 *   as the placeholder was; an empty block removes the line;
 * - a placeholder followed by a space that takes empty text takes the space
 *   with it (`const Real* VARIANT_RESTRICT here` renders `const Real* here`).
 * The fragments are excluded from clang-format (cpp/variant/.clang-format):
 * reformatting them would change the renderings, and with them the names and
 * hashes of every archived kernel and the template analysis.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../native/loader.js';

/** Where the fragments are, in a checkout and in an installed package alike (package.json ships cpp/). */
const FRAGMENT_DIR = path.join(packageRoot, 'cpp', 'variant');

const fragments = new Map<string, string>();

/** The text of cpp/variant/`name`, read once per process. */
export function fragment(name: string): string {
  let text = fragments.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(FRAGMENT_DIR, name), 'utf8');
    fragments.set(name, text);
  }
  return text;
}

const PLACEHOLDER = /^( *)(VARIANT_[A-Z0-9_]+)\n|(VARIANT_[A-Z0-9_]+)( ?)/gm;

/** A fragment's text between placeholders, or a placeholder: a line one (with its indent) or an inline one (with the space after it). */
type Part = string | { placeholder: string; pad: string | null; space: string };

const parsed = new Map<string, Part[]>();

/** cpp/variant/`name` cut at its placeholders, once per process: a kernel is rendered from some 20 fills. */
function parts(name: string): Part[] {
  let cut = parsed.get(name);
  if (cut === undefined) {
    const text = fragment(name);
    cut = [];
    let at = 0;
    for (const match of text.matchAll(PLACEHOLDER)) {
      cut.push(text.slice(at, match.index));
      const [whole, pad, line, inline, space] = match;
      cut.push(line !== undefined ? { placeholder: line, pad: pad ?? '', space: '' } : { placeholder: inline ?? '', pad: null, space: space ?? '' });
      at = match.index + whole.length;
    }
    cut.push(text.slice(at));
    parsed.set(name, cut);
  }
  return cut;
}

function indent(block: string, pad: string): string {
  if (pad === '') return block;
  return block
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}

/**
 * cpp/variant/`name` with every placeholder replaced by its value. Inserted
 * text is not scanned again. A placeholder without a value, or a block that
 * does not end its last line, is a bug of the renderer and throws.
 */
export function fill(name: string, values: Readonly<Record<string, string>> = {}): string {
  let out = '';
  for (const part of parts(name)) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = values[part.placeholder];
    if (value === undefined) throw new Error(`cpp/variant/${name}: no value for ${part.placeholder}`);
    if (part.pad !== null) {
      if (value !== '' && !value.endsWith('\n')) throw new Error(`cpp/variant/${name}: the block for ${part.placeholder} must end with a newline`);
      out += indent(value, part.pad);
    } else if (value !== '') {
      out += value + part.space;
    }
  }
  return out;
}

/** From the includes to the work-splitting helpers, inside the anonymous namespace the epilogue closes. */
export function prologue(): string {
  return `${fragment('kernel_includes.h')}\nnamespace {\n\n${fragment('kernel_helpers.h')}`;
}

/** The generic path: any dimension count, rows found by div/mod once per row. */
export function genericPath(): string {
  return `\n${fragment('generic_path.h')}`;
}

/** wave_step's dispatch (1-D lattices too when the fast path has a 1-D form), the kernel table and the entry point. */
export function epilogue(kernelName: string, oneDimensional: boolean): string {
  const dispatch = fragment(oneDimensional ? 'step_any_line.h' : 'step_any.h');
  const table = fill('wave_step.h', { VARIANT_KERNEL_NAME: kernelName });
  return `\n${dispatch}\n${table}\n}  // namespace\n\n${fragment('kernel_entry.h')}`;
}
