/**
 * What a generator may learn from a rejection. A reason fed back to a
 * generator (the LLM prompt, anything under ts/generators/) says which gate
 * refused and why in words, never with which test input: the sandbox's
 * extents, seeds, r^2, cell indices and values would let a generator fit
 * the test instead of the physics. Nor does it carry host text: paths
 * outside the candidate and what a tool quoted from files it read. The
 * candidate's own line numbers stay ("line 12: ..."): they point into the
 * generator's own source, not into a test.
 */

/** Longest reason a generator gets: one sentence, not a tool's transcript. */
export const MAX_FEEDBACK_CHARS = 300;
/** Longer quoted text is a tool echoing a file, not an identifier. */
const MAX_QUOTED_CHARS = 40;

const PLACEHOLDER_LINE = '\u0000line';

export function sanitiseFeedback(reason: string): string {
  const firstLine = reason.split('\n', 1)[0] ?? '';
  return (
    firstLine
      // Absolute paths (two or more components) and file URLs: host text.
      .replace(/(?:file:\/\/)?(?:\/[\w.+@~-]+){2,}\/?/g, '<path>')
      // Long quoted text: what a tool echoed from a file.
      .replace(/(["'‘“`])([^"'’”`]*)(["'’”`])/g, (whole, _open: string, inner: string) => (inner.length > MAX_QUOTED_CHARS ? '<text>' : whole))
      // The candidate's own line numbers survive the number rule below.
      .replace(/\bline (\d+)/gi, `${PLACEHOLDER_LINE} $1`)
      // Lattice shapes: 64x64, 5 × 7 × 9, [3, 5, 7].
      .replace(/\[\s*\d+(?:\s*,\s*\d+)+\s*\]|\b\d+(?:\s*[x×]\s*\d+)+\b/g, '<extents>')
      // Every other number: seeds, r^2, cell indices, values, step counts. (NUL marks the placeholder above.)
      .replace(
        // eslint-disable-next-line no-control-regex -- NUL is the placeholder's own marker
        /(?<![\w.\u0000])[-+]?(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|inf(?:inity)?|nan)(?![\w.])[²³]?/gi,
        (number, offset: number, text: string) =>
          // eslint-disable-next-line no-control-regex -- NUL is the placeholder's own marker
          /\u0000line $/.test(text.slice(0, offset)) ? number : '<n>',
      )
      .replaceAll(PLACEHOLDER_LINE, 'line')
      .slice(0, MAX_FEEDBACK_CHARS)
  );
}
