/**
 * Escaping of untrusted text. Everything the archive holds (sources, reasons,
 * genomes, generator names) may be hostile: it goes through escapeHtml before
 * it reaches the HTML report and through printable before it reaches a
 * terminal, where a control sequence could rewrite what the user sees.
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe inside an element or a quoted attribute value. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (character) => ENTITIES[character]!);
}

/** Control characters (escape sequences included) shown as \\xNN; newlines and tabs kept only when `multiline`. */
export function printable(text: string, multiline = false): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it must find
  const pattern = multiline ? /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g : /[\x00-\x1f\x7f-\x9f]/g;
  return text.replace(pattern, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
