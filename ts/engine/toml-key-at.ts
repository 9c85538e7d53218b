/**
 * The key of a TOML document whose value holds a position of its text: a
 * syntax error inside a value (an integer too large to keep exactly) leaves
 * no document to ask, only the line and column the parser stopped at, and an
 * error that names the key is worth the short scan.
 */

/** A table header alone on its line: [table] or [[array.of.tables]]. */
const HEADER = /^\s*\[\[?\s*([^[\]]+?)\s*\]\]?\s*(?:#.*)?$/;
/** Strings (also one the position cuts off) and comments, skipped; bare or dotted keys before "="; brackets. */
const TOKEN = /("(?:[^"\\]|\\.)*(?:"|$)|'[^']*(?:'|$)|#.*$)|([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=|([[{])|([\]}])/g;

interface Open {
  bracket: '[' | '{';
  /** The key whose value the bracket opened, relative to the table (empty for a bare array element). */
  path: string[];
}

/**
 * The dotted key (tables included) whose value holds 1-based `line`:`column`
 * of `text`, as smol-toml's TomlError gives them, or null when the position is
 * in no value (a header, a key, a line of its own). It follows table headers,
 * dotted keys, arrays over several lines and inline tables; quoted keys are
 * not read.
 */
export function tomlKeyAt(text: string, line: number, column: number): string | null {
  const lines = text.split(/\r?\n/);
  if (line < 1 || line > lines.length) return null;
  let table: string[] = [];
  let pending: string[] | null = null;
  const open: Open[] = [];
  for (let index = 0; index < line; index += 1) {
    const whole = lines[index]!;
    const header = open.length === 0 ? HEADER.exec(whole) : null;
    if (header) {
      if (index === line - 1) return null;
      table = header[1]!.split('.').map((part) => part.trim());
      pending = null;
      continue;
    }
    if (open.length === 0) pending = null;
    const content = index === line - 1 ? whole.slice(0, column - 1) : whole;
    for (const [, skipped, key, opening, closing] of content.matchAll(TOKEN)) {
      if (skipped !== undefined) continue;
      const within = [...open].reverse().find((entry) => entry.bracket === '{')?.path ?? [];
      if (key !== undefined) pending = [...within, ...key.split('.').map((part) => part.trim())];
      else if (opening !== undefined) open.push({ bracket: opening as Open['bracket'], path: pending ?? within });
      else if (closing !== undefined) {
        // After an array its key's value goes on (a position there is still in it); after an inline table it has ended.
        const closed = open.pop();
        pending = closing === ']' && closed !== undefined ? closed.path : null;
      }
    }
  }
  return pending === null || pending.length === 0 ? null : [...table, ...pending].join('.');
}
