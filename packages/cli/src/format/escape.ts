/**
 * Names in line output, escaped as GNU ls --quoting-style=escape (`ls -b`) does, spaces aside: a
 * control character becomes its C escape (`\n`, `\t`, …, else `\ooo` per byte, C1 controls included),
 * a backslash becomes `\\`, everything else is kept. No name can then add a line, move the cursor or
 * pose as another path, and the result is unambiguous. GNU tar's `-T` list unquotes exactly these escapes
 * (its default --unquote), so `elfcopy deps --list DIR | tar -cf o.tar -T -` archives the real files;
 * `--null` prints the names raw, NUL-terminated, for every other consumer.
 */

const NEEDS_ESCAPE = /[\u0000-\u001f\u007f-\u009f\\]/;
const NAMED: Readonly<Record<string, string>> = { '\u0007': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r', '\\': '\\\\' };

export function escapeName(name: string): string {
  if (!NEEDS_ESCAPE.test(name)) return name;
  let out = '';
  for (const ch of name) {
    const named = NAMED[ch];
    if (named !== undefined) out += named;
    else if (NEEDS_ESCAPE.test(ch)) for (const byte of Buffer.from(ch, 'utf8')) out += `\\${byte.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return out;
}

/** Whether escapeName changes `name`. */
export function needsEscape(name: string): boolean {
  return NEEDS_ESCAPE.test(name);
}
