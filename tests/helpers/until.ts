/** Waiting on a state in tests, without asserting anything about time. */

/** How often `until` looks at its condition when the caller does not say. */
export const DEFAULT_POLL_MS = 20;

/**
 * Resolves once `condition` holds, looked at every `pollMs`. It waits on a state and has no bound of its own: the
 * test's timeout (vitest's `testTimeout`) bounds it, so a busy machine only makes the wait longer, never a failure.
 */
export async function until(condition: () => boolean | Promise<boolean>, pollMs = DEFAULT_POLL_MS): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, pollMs));
}
