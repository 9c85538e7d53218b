/**
 * Reading a model's reply: exactly one fenced C++ block that defines the
 * kernel entry point, or a reason the reply is unusable. Nothing else in the
 * reply is trusted or used; the gauntlet judges the code itself.
 */
import { MAX_SOURCE_BYTES } from '../../gauntlet/patch-gate.js';
import { stripComments } from '../../gauntlet/source-rules.js';
import { GeneratorError } from '../types.js';

/** Fence languages taken as a candidate; an untagged fence counts too, as models often omit the tag. */
const CANDIDATE_LANGUAGES = new Set(['', 'cpp', 'c++', 'cc', 'cxx', 'hpp', 'c']);

interface Fence {
  language: string;
  body: string;
}

/** Fenced blocks (``` or ~~~, three or more), in order; an unterminated one runs to the end of the reply. */
function fences(reply: string): { blocks: Fence[]; unterminated: boolean } {
  const blocks: Fence[] = [];
  const lines = reply.split(/\r?\n/);
  let open: { marker: string; language: string; body: string[] } | null = null;
  for (const line of lines) {
    if (open === null) {
      const start = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(line);
      if (start) open = { marker: start[1]!, language: start[2]!.toLowerCase(), body: [] };
    } else if (line.trim().startsWith(open.marker) && line.trim().replace(/[`~]/g, '') === '') {
      blocks.push({ language: open.language, body: open.body.join('\n') });
      open = null;
    } else {
      open.body.push(line);
    }
  }
  if (open !== null) blocks.push({ language: open.language, body: open.body.join('\n') });
  return { blocks, unterminated: open !== null };
}

function malformed(reason: string): GeneratorError {
  return new GeneratorError('malformed-reply', `malformed reply: ${reason}`);
}

/**
 * The candidate's source from the reply's text. `finishReason` "length" means
 * the model was cut off at `maxTokens`, so the code cannot be whole.
 */
export function extractCandidate(reply: string | null | undefined, finishReason: string | null, maxTokens: number): string {
  if (finishReason === 'length') {
    throw malformed(`the reply was cut off at maxTokens = ${maxTokens} before it ended`);
  }
  if (typeof reply !== 'string' || reply.trim() === '') throw malformed('the reply is empty');
  const { blocks, unterminated } = fences(reply);
  if (unterminated) throw malformed('a code fence is opened and never closed');
  const candidates = blocks.filter((block) => CANDIDATE_LANGUAGES.has(block.language));
  if (candidates.length === 0) {
    const other = blocks.map((block) => block.language).join(', ');
    throw malformed(blocks.length === 0 ? 'no fenced C++ code block (```cpp ... ```)' : `no C++ code block, only blocks in ${other}`);
  }
  if (candidates.length > 1) {
    throw malformed(`${candidates.length} C++ code blocks: exactly one, the whole kernel file, is needed`);
  }
  const source = `${candidates[0]!.body.trim()}\n`;
  if (source.trim() === '') throw malformed('the C++ code block is empty');
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > MAX_SOURCE_BYTES) throw malformed(`the code block is ${bytes} bytes: the limit is ${MAX_SOURCE_BYTES}`);
  if (!/\bouro_kernel_entry\s*\(/.test(stripComments(source))) {
    throw malformed('the code block does not define ouro_kernel_entry, the symbol every kernel module exports');
  }
  return source;
}
