/**
 * Text from outside (a device's HELLO, its ERROR messages) made safe to show at a terminal: every
 * character outside printable ASCII, and the backslash, written as a JSON-style escape (`\x1b`,
 * `\n`, `\\`), so that an escape sequence is seen, never obeyed.
 */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x5b\x5d-\x7e]/g, (c) => {
    const named: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    if (named[c]) return named[c];
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * JSON.stringify leaves DEL and the C1 controls (U+007F to U+009F) raw, and a terminal may obey
 * U+009B as CSI: this writes them as \u escapes too (the same JSON value).
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
