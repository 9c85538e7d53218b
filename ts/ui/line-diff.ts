/**
 * A line diff of a candidate's source against its parent's, for the
 * attempt page: the longest common subsequence of lines, as kept, removed
 * and added lines in order. Kernels are a few hundred lines, so the
 * quadratic table is small; beyond MAX_DIFF_CELLS it gives up and says so.
 */
export interface DiffLine {
  kind: 'same' | 'removed' | 'added';
  text: string;
}

/** Table cells (parent lines x child lines) above which no diff is computed: 16 M cells of 4 bytes. */
export const MAX_DIFF_CELLS = 4_000_000;

export function lineDiff(before: string, after: string): DiffLine[] | null {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length * b.length > MAX_DIFF_CELLS) return null;
  const width = b.length + 1;
  // common[i * width + j]: the longest common subsequence of a[i..] and b[j..].
  const common = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i * width + j] = a[i] === b[j] ? common[(i + 1) * width + j + 1]! + 1 : Math.max(common[(i + 1) * width + j]!, common[i * width + j + 1]!);
    }
  }
  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ kind: 'same', text: a[i++]! });
      j++;
    } else if (j < b.length && (i === a.length || common[i * width + j + 1]! > common[(i + 1) * width + j]!)) {
      lines.push({ kind: 'added', text: b[j++]! });
    } else {
      lines.push({ kind: 'removed', text: a[i++]! });
    }
  }
  return lines;
}
