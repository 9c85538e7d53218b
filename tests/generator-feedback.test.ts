import { describe, expect, it } from 'vitest';
import { MAX_FEEDBACK_CHARS, sanitiseFeedback } from '../dist/ts/generators/feedback.js';

describe('feedback to generators', () => {
  it('names no test input: extents, seeds, r^2, cell indices or values', () => {
    const reason =
      'differential: cell 1234 of 5x7x9 (extents [5, 7, 9]) differs after 3 steps: expected 0.12345, got -1.5e-300 (seed 987654, r2 = 0.25, 4096² lattice, NaN at 0x1f)';
    const clean = sanitiseFeedback(reason);
    for (const input of ['1234', '5x7x9', '[5, 7, 9]', '0.12345', '1.5e-300', '987654', '0.25', '4096', '0x1f', 'NaN']) {
      expect(clean).not.toContain(input);
    }
    expect(clean).toMatch(/^differential: cell <n> of <extents>/);
  });

  it("keeps the candidate's own line numbers and the words of the reason", () => {
    const clean = sanitiseFeedback('safety score 0 is below the threshold 0.8; worst: line 12: attribute optimize with "O0" is not allowed');
    expect(clean).toContain('line 12: attribute optimize');
    expect(clean).toContain('"O0"');
    expect(clean).not.toContain('0.8');
  });

  it('carries no host text: paths, quoted file contents, later lines', () => {
    const clean = sanitiseFeedback(
      'does not compile: /etc/passwd:1:1: error: expected unqualified-id before "root:x:0:0:root:/root:/bin/bash daemon:x:1:1:daemon"\nIn file included from /home/user/secret.h',
    );
    expect(clean).not.toMatch(/passwd|root:x|daemon|secret|home/);
    expect(clean).toContain('<path>');
  });

  it('is one bounded sentence', () => {
    expect(sanitiseFeedback('word '.repeat(1000)).length).toBe(MAX_FEEDBACK_CHARS);
  });
});
