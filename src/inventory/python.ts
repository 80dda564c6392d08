/**
 * The two bits of Python that Ansible's INI plugin leans on, so INI values type the same here:
 * `shlex.split(line, comments=True)` for host lines and `ast.literal_eval` for every value.
 */

/** Thrown for text Python would reject; callers turn it into an InventoryError with the line. */
export class PythonSyntaxError extends Error {}

const WHITESPACE = new Set([' ', '\t', '\r', '\n', '\f', '\v']);

/**
 * POSIX `shlex.split(line, comments=True)`: quotes group, backslash escapes, `#` ends the line
 * even in the middle of a word (as shlex does).
 * @example shlexSplit(`xs-01 motd="hi there" # note`) // ['xs-01', 'motd=hi there']
 */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let token = '';
  let inToken = false;
  let i = 0;
  const flush = () => {
    if (inToken) tokens.push(token);
    token = '';
    inToken = false;
  };
  while (i < line.length) {
    const char = line[i];
    if (WHITESPACE.has(char)) {
      flush();
      i++;
    } else if (char === '#') {
      break;
    } else if (char === '\\') {
      if (i + 1 >= line.length) throw new PythonSyntaxError('No escaped character');
      token += line[i + 1];
      inToken = true;
      i += 2;
    } else if (char === "'" || char === '"') {
      const quoted = readShellQuoted(line, i);
      token += quoted.text;
      inToken = true;
      i = quoted.end;
    } else {
      token += char;
      inToken = true;
      i++;
    }
  }
  flush();
  return tokens;
}

/** Reads a quoted run starting at `start`; inside double quotes only `\"` and `\\` are escapes. */
function readShellQuoted(line: string, start: number): { text: string; end: number } {
  const quote = line[start];
  let text = '';
  for (let i = start + 1; i < line.length; i++) {
    const char = line[i];
    if (char === quote) return { text, end: i + 1 };
    if (quote === '"' && char === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
      text += line[++i];
    } else {
      text += char;
    }
  }
  throw new PythonSyntaxError('No closing quotation');
}

/**
 * What Ansible's INI `_parse_value` does: `ast.literal_eval(text)`, falling back to the text
 * itself when Python would not read it as a literal (a bare word, `01`, `1.2.3`, `[1,2`).
 * @example pythonValue('0x1f') // 31; pythonValue('yes') // 'yes'; pythonValue("'03'") // '03'
 */
export function pythonValue(text: string): unknown {
  try {
    return new LiteralParser(text).parseAll();
  } catch (error) {
    if (error instanceof PythonSyntaxError) return text;
    throw error;
  }
}

const NUMBER =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?)/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const STRING_START = /^([rRuUbB]|[bB][rR]|[rR][bB])?('''|"""|'|")/;

/** A recursive-descent reader for the Python literal grammar that `ast.literal_eval` accepts. */
class LiteralParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseAll(): unknown {
    const value = this.parseTupleOrValue(true);
    this.skipSpace();
    if (this.pos < this.text.length) this.fail();
    return value;
  }

  /** Top level and inside parentheses, `a, b` is a tuple (an array here). */
  private parseTupleOrValue(topLevel: boolean): unknown {
    this.skipSpace();
    if (topLevel && this.pos >= this.text.length) this.fail();
    const first = this.parseValue();
    this.skipSpace();
    if (this.peek() !== ',') return first;
    const items = [first];
    while (this.peek() === ',') {
      this.pos++;
      this.skipSpace();
      if (this.atEnd() || this.peek() === ')') break;
      items.push(this.parseValue());
      this.skipSpace();
    }
    return items;
  }

  private parseValue(): unknown {
    this.skipSpace();
    const char = this.peek();
    if (char === '[') return this.parseSequence('[', ']');
    if (char === '(') return this.parseParenthesised();
    if (char === '{') return this.parseBraces();
    if (char === '-' || char === '+') return this.parseSigned();
    if (STRING_START.test(this.rest())) return this.parseStrings();
    if (/^\.?\d/.test(this.rest())) return this.parseNumber();
    return this.parseName();
  }

  private parseSigned(): number | string {
    const negative = this.text[this.pos++] === '-';
    this.skipSpace();
    if (!/^\.?\d/.test(this.rest())) this.fail();
    const value = this.parseNumber();
    if (typeof value === 'string') return negative ? `-${value}` : value;
    return negative ? -value : value;
  }

  private parseNumber(): number | string {
    const match = NUMBER.exec(this.rest());
    if (!match) this.fail();
    const literal = match[0];
    this.pos += literal.length;
    // `1abc`, `1j` (complex) and the like are not numbers Ansible could print as JSON.
    if (/^[A-Za-z0-9_]/.test(this.rest())) this.fail();
    const digits = literal.replaceAll('_', '');
    if (/^0[xXoObB]/.test(digits)) return this.exactInteger(digits.toLowerCase());
    // Python 3 refuses leading zeros on decimal integers ("01"), but not "00" or "0.5".
    if (/^0\d/.test(digits) && !/[.eE]/.test(digits) && /[1-9]/.test(digits)) this.fail();
    return /[.eE]/.test(digits) ? Number(digits) : this.exactInteger(digits);
  }

  /** Python ints have no size limit; one a JS number would round (a WWN in decimal) stays exact, as text. */
  private exactInteger(digits: string): number | string {
    const value = Number(digits);
    return Number.isSafeInteger(value) ? value : BigInt(digits).toString();
  }

  private parseName(): unknown {
    const match = NAME.exec(this.rest());
    if (!match) this.fail();
    this.pos += match[0].length;
    const constants: Record<string, unknown> = { True: true, False: false, None: null };
    if (!(match[0] in constants)) this.fail();
    return constants[match[0]];
  }

  /** Adjacent string literals concatenate, as in Python: `'a' "b"` is `'ab'`. */
  private parseStrings(): string {
    let value = '';
    do {
      value += this.parseString();
      this.skipSpace();
    } while (STRING_START.test(this.rest()));
    return value;
  }

  private parseString(): string {
    const match = STRING_START.exec(this.rest())!;
    const raw = /[rR]/.test(match[1] ?? '');
    const quote = match[2];
    this.pos += match[0].length;
    let value = '';
    while (!this.text.startsWith(quote, this.pos)) {
      if (this.atEnd() || (quote.length === 1 && this.peek() === '\n')) this.fail();
      if (this.peek() === '\\') value += this.readEscape(raw);
      else value += this.text[this.pos++];
    }
    this.pos += quote.length;
    return value;
  }

  private readEscape(raw: boolean): string {
    const next = this.text[this.pos + 1];
    if (next === undefined) this.fail();
    this.pos += 2;
    if (raw) return `\\${next}`;
    const simple: Record<string, string> = {
      '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '',
    };
    if (next in simple) return simple[next];
    const hexLength = { x: 2, u: 4, U: 8 }[next as 'x' | 'u' | 'U'];
    if (hexLength) return this.readHexEscape(hexLength);
    if (/[0-7]/.test(next)) return this.readOctalEscape(next);
    return `\\${next}`;
  }

  private readHexEscape(length: number): string {
    const hex = this.text.slice(this.pos, this.pos + length);
    if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex)) this.fail();
    this.pos += length;
    return String.fromCodePoint(Number.parseInt(hex, 16));
  }

  private readOctalEscape(first: string): string {
    const more = /^[0-7]{0,2}/.exec(this.rest())![0];
    this.pos += more.length;
    return String.fromCodePoint(Number.parseInt(first + more, 8));
  }

  private parseSequence(open: string, close: string): unknown[] {
    this.expect(open);
    const items: unknown[] = [];
    for (this.skipSpace(); this.peek() !== close; this.skipSpace()) {
      items.push(this.parseValue());
      this.skipSpace();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== close) this.fail();
    }
    this.pos++;
    return items;
  }

  private parseParenthesised(): unknown {
    this.expect('(');
    this.skipSpace();
    if (this.peek() === ')') {
      this.pos++;
      return [];
    }
    // `(1)` is 1 and `(1, 2)` a tuple, which is an array once printed as JSON.
    const value = this.parseTupleOrValue(false);
    this.skipSpace();
    this.expect(')');
    return value;
  }

  /** `{}` is a dict; `{1, 2}` a set (an array here); `{'k': v}` a dict. */
  private parseBraces(): unknown {
    this.expect('{');
    const dict: Record<string, unknown> = {};
    const set: unknown[] = [];
    for (this.skipSpace(); this.peek() !== '}'; this.skipSpace()) {
      const key = this.parseValue();
      this.skipSpace();
      if (this.peek() === ':') {
        this.pos++;
        if (set.length) this.fail();
        dict[pythonKey(key)] = this.parseValue();
      } else {
        if (Object.keys(dict).length) this.fail();
        set.push(key);
      }
      this.skipSpace();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== '}') this.fail();
    }
    this.pos++;
    return set.length ? set : dict;
  }

  /** Spaces, tabs, newlines and `# comments` may sit between tokens (`8080 # web port`). */
  private skipSpace(): void {
    for (;;) {
      while (!this.atEnd() && WHITESPACE.has(this.peek())) this.pos++;
      if (this.peek() !== '#') return;
      while (!this.atEnd() && this.peek() !== '\n') this.pos++;
    }
  }

  private expect(char: string): void {
    if (this.peek() !== char) this.fail();
    this.pos++;
  }

  private peek(): string {
    return this.text[this.pos] ?? '';
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private rest(): string {
    return this.text.slice(this.pos);
  }

  private fail(): never {
    throw new PythonSyntaxError(`not a Python literal: ${this.text}`);
  }
}

/** How a Python dict key looks once Ansible has printed it as JSON. */
function pythonKey(key: unknown): string {
  if (key === null) return 'null';
  if (typeof key === 'object') throw new PythonSyntaxError('unhashable dict key');
  return String(key);
}
