/**
 * The quoting shell against real shells: every hostile value must arrive byte-exact as one word in
 * dash, bash and busybox sh. Windows quoting is checked against faithful models of cmd.exe and the
 * Microsoft C runtime's argv parsing, PowerShell's against its single-quoted literal rule.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cmd, maskSecrets, MASK, psCmd, raw, secret, winCmd, type Interpolation } from '../../src/shell/command.ts';
import { quotePosix, quotePowerShell, quoteWindowsCmd } from '../../src/shell/quote.ts';
import { CommandError, createShell } from '../../src/shell/shell.ts';
import { msvcrtArgv as labMsvcrtArgv } from '../../lab/sim/windows/argv.mjs';

// ---- real shells ----------------------------------------------------------------------------

interface RealShell {
  name: string;
  argv: string[];
}

const CANDIDATES: RealShell[] = [
  { name: 'dash', argv: ['dash'] },
  { name: 'bash', argv: ['bash'] },
  { name: 'busybox sh', argv: ['busybox', 'sh'] },
];

const runs = (shell: RealShell): boolean => spawnSync(shell.argv[0], [...shell.argv.slice(1), '-c', 'exit 0']).status === 0;
const SHELLS = CANDIDATES.map((shell) => ({ ...shell, installed: runs(shell) }));

/** Runs the command text the way transports do (`shell -c TEXT`) and returns stdout's bytes. */
function runIn(shell: RealShell, text: string): Buffer {
  const result = spawnSync(shell.argv[0], [...shell.argv.slice(1), '-c', text], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${shell.name} exited ${result.status}: ${result.stderr.toString()}`);
  return result.stdout;
}

const CONTROL_BYTES = Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1)).join('');

/** Builds a value of about `bytes` UTF-8 bytes with something hostile every few characters. */
function bigHostile(bytes: number): string {
  const unit = `it's $(rm -rf /) \`id\` \\ "q" \n\t*?[a] ~ ! ;&|<> ${CONTROL_BYTES} 🚀 שלום e\u0301 `;
  return unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit))).slice(0, bytes);
}

const HOSTILE: Array<[string, string]> = [
  ['single quote', "it's"],
  ['only single quotes', "'''"],
  ['double quotes', '"a" "b"'],
  ['command substitution', '$(touch /tmp/runbook-pwned)'],
  ['backticks', '`touch /tmp/runbook-pwned`'],
  ['variable', '$HOME'],
  ['braced variable', '${HOME:-x}'],
  ['arithmetic', '$((6*7))'],
  ['newline', 'a\nb'],
  ['trailing newlines', 'a\n\n'],
  ['carriage return', 'a\r\nb'],
  ['tab', 'a\tb'],
  ['globs', '*?[a]'],
  ['star alone', '*'],
  ['tilde', '~'],
  ['tilde user', '~root/x'],
  ['leading dash', '-n'],
  ['double dash', '--help'],
  ['bang', '!'],
  ['history', '!!'],
  ['operators', ';&|<>'],
  ['redirection', '>/tmp/runbook-pwned'],
  ['backslashes', '\\\\n\\'],
  ['trailing backslash', 'a\\'],
  ['empty string', ''],
  ['one space', ' '],
  ['hash', '#not a comment'],
  ['braces', '{a,b}'],
  ['assignment-like', 'A=b'],
  ['percent', '%s%d%%'],
  ['emoji', '🚀🔥👩‍👩‍👧'],
  ['right-to-left', 'שלום עולם \u202egnp.exe'],
  ['combining marks', 'e\u0301 a\u0308\u0323'],
  ['control bytes 0x01-0x1f', CONTROL_BYTES],
  ['DEL', '\x7f'],
  ['everything at once', `'"$\`\\ \n\t*?[a]~!;&|<>()#{}%^`],
];

/** Values here must never be changed in transit, whatever shell: the contract of quotePosix. */
describe.each(SHELLS)('POSIX quoting through $name', (shell) => {
  if (!shell.installed) {
    it.skip(`${shell.name} is not installed on this machine`, () => {});
    return;
  }

  it.each(HOSTILE)('%s arrives byte-exact', (_, value) => {
    expect(runIn(shell, cmd`printf '%s' ${value}`.text)).toEqual(Buffer.from(value));
  });

  it('a 100 KB hostile value arrives byte-exact', () => {
    const value = bigHostile(100 * 1024);
    expect(runIn(shell, cmd`printf '%s' ${value}`.text)).toEqual(Buffer.from(value));
  });

  it('an array becomes several words, each quoted', () => {
    expect(runIn(shell, cmd`printf '%s\n' ${['a b', 'c', "it's", '']}`.text).toString()).toBe("a b\nc\nit's\n\n");
  });

  it('an empty array adds no word', () => {
    expect(runIn(shell, cmd`printf '[%s]' x ${[]}`.text).toString()).toBe('[x]');
  });

  it('a nested Command is inserted as built', () => {
    const inner = cmd`printf '%s' ${"it's"}`;
    expect(runIn(shell, cmd`${inner}; printf '%s' ${'$HOME'}`.text).toString()).toBe("it's$HOME");
  });

  it("a command's text survives as one argument of sh -c (quoting twice)", () => {
    const inner = cmd`printf '%s' ${HOSTILE.map(([, v]) => v).join('|')}`;
    expect(runIn(shell, cmd`sh -c ${inner.text}`.text)).toEqual(Buffer.from(HOSTILE.map(([, v]) => v).join('|')));
  });

  it('raw() is left unquoted, so it works as an operator', () => {
    expect(runIn(shell, cmd`printf '%s' a ${raw('&&')} printf '%s' b`.text).toString()).toBe('ab');
  });

  it('a secret runs with its real value', () => {
    expect(runIn(shell, cmd`printf '%s' ${secret("p@ss 'word' $x")}`.text).toString()).toBe("p@ss 'word' $x");
  });
});

// ---- property: random hostile strings through dash ----------------------------------------

/** mulberry32: a tiny seeded PRNG, so a failure names a seed that reproduces it. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [..."'\"$`\\ \t\n\r!*?[]{}~#;&|<>()-=%^@:,./ab01", ...CONTROL_BYTES, '\x7f', 'é', 'e\u0301', '🚀', 'ש', '\u202e', '\u2019'];

function randomHostile(random: () => number): string {
  const length = Math.floor(random() * 24);
  return Array.from({ length }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join('');
}

describe('property: 500 random hostile strings round-trip through dash', () => {
  const dash = SHELLS[0];
  it.skipIf(!dash.installed)('each arrives byte-exact (seed 20261121)', () => {
    const random = prng(20261121);
    const failures: string[] = [];
    for (let i = 0; i < 500; i++) {
      const value = randomHostile(random);
      const got = runIn(dash, cmd`printf '%s' ${value}`.text);
      if (!got.equals(Buffer.from(value))) failures.push(JSON.stringify(value));
    }
    expect(failures).toEqual([]);
  });
});

// ---- the template itself -------------------------------------------------------------------

describe('cmd template', () => {
  it.each<[string, () => string, string]>([
    ['bare words stay bare', () => cmd`xe vm-param-set uuid=${'0f1e2d3c-aaaa-bbbb-cccc-000000000001'} PV-args=${'console=hvc0 xencons=hvc0'}`.display,
      "xe vm-param-set uuid=0f1e2d3c-aaaa-bbbb-cccc-000000000001 PV-args='console=hvc0 xencons=hvc0'"],
    ['a single quote is closed, escaped, reopened', () => cmd`echo ${"it's"}`.display, "echo 'it'\\''s'"],
    ['the empty string is an empty word', () => cmd`printf '%s' ${''}`.display, "printf '%s' ''"],
    ['numbers and booleans are words', () => cmd`sleep ${5} ${true}`.display, 'sleep 5 true'],
    ['a tilde is quoted (no home expansion)', () => cmd`ls ${'~'}`.display, "ls '~'"],
    ['a secret is masked in display', () => cmd`xe pool-join password=${secret('hunter2')}`.display, `xe pool-join password=${MASK}`],
    ['a nested secret stays masked', () => cmd`sudo ${cmd`passwd ${secret('x y')}`}`.display, `sudo passwd ${MASK}`],
  ])('%s', (_, build, expected) => {
    expect(build()).toBe(expected);
  });

  it('a secret is quoted in the text that runs and listed for masking', () => {
    const command = cmd`xe pool-join password=${secret('p w')}`;
    expect(command.text).toBe("xe pool-join password='p w'");
    expect(command.secrets).toContain('p w');
    expect(command.hasSecrets).toBe(true);
    expect(JSON.stringify({ command })).not.toContain('p w');
    expect(String(secret('p w'))).toBe(MASK);
  });

  it.each<[string, string, readonly string[], string]>([
    ['a secret in output', 'joined with hunter2 ok', ['hunter2'], `joined with ${MASK} ok`],
    ['every occurrence', 'a-b-a', ['a'], `${MASK}-b-${MASK}`],
    ['the longer secret first', 'key abcdef', ['abc', 'abcdef'], `key ${MASK}`],
    ['an empty secret masks nothing', 'text', [''], 'text'],
    ['its quoted form, echoed by a shell', "sh: 1: 'it'\\''s': not found", cmd`${secret("it's")}`.secrets, `sh: 1: ${MASK}: not found`],
  ])('maskSecrets masks %s', (_, text, secrets, expected) => {
    expect(maskSecrets(text, secrets)).toBe(expected);
  });

  it('a failing command reports stderr with the secret masked', async () => {
    const sh = createShell('xs-01', async (command) => ({
      command, stdout: '', stderr: `bad password hunter2`, code: 1, signal: null, durationMs: 1, timedOut: false, ok: false,
    }));
    const error = await sh`xe pool-join password=${secret('hunter2')}`.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as Error).message).toBe(`xs-01: \`xe pool-join password=${MASK}\` exited 1\nbad password ${MASK}`);
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['an object', { path: '/tmp' }],
    ['a Date', new Date(0)],
    ['a function', () => 'x'],
    ['a symbol', Symbol('x')],
    ['undefined inside an array', ['a', undefined]],
  ])('interpolating %s throws', (_, value) => {
    expect(() => cmd`rm -rf ${value as Interpolation}`).toThrow(TypeError);
  });

  it('a NUL byte throws (it would cut the command short)', () => {
    expect(() => cmd`printf '%s' ${'a\0b'}`).toThrow(/NUL/);
    expect(() => psCmd`Write-Output ${'a\0b'}`).toThrow(/NUL/);
  });

  it('nesting a command of another dialect throws', () => {
    expect(() => cmd`echo ${winCmd`dir`}`).toThrow(/cannot nest/);
  });

  it('quotePosix keeps plain words bare and quotes the rest', () => {
    expect(['abc', '/etc/ntp.conf', 'a=b', 'user@host:/x', '-n'].map(quotePosix)).toEqual(['abc', '/etc/ntp.conf', 'a=b', 'user@host:/x', '-n']);
    expect(['a b', '*', '$x', '', "'"].map(quotePosix)).toEqual(["'a b'", "'*'", "'$x'", "''", "''\\'''"]);
  });
});

// ---- Windows: cmd.exe, then the C runtime's argv parser -----------------------------------

/**
 * cmd.exe, command-line context, delayed expansion off (its default). Per the parser phases
 * documented by dbenham and jeb, "How does the Windows Command Interpreter (CMD.EXE) parse
 * scripts?" (Stack Overflow 4094699):
 * - Phase 1, percent expansion: `%NAME%` becomes the variable's value when NAME is defined; when it
 *   is not, the first `%` is kept and scanning resumes right after it (so `%a%PATH%` expands PATH).
 * - Phase 2, special characters: a `"` toggles the quote flag and stays in the line; outside quotes
 *   `^` escapes the next character and is removed, and an unescaped `& | < >` is an operator;
 *   inside quotes everything is literal, carets included.
 * Returns the command line the program receives, or throws where cmd would do something else.
 */
function cmdExeLine(line: string, env: Record<string, string>): string {
  if (/[\r\n]/.test(line)) throw new Error('cmd ends the command at a line break');
  let expanded = '';
  for (let i = 0; i < line.length; i++) {
    const close = line[i] === '%' ? line.indexOf('%', i + 1) : -1;
    const name = close > i ? line.slice(i + 1, close) : '';
    if (name !== '' && Object.hasOwn(env, name)) { expanded += env[name]; i = close; continue; }
    expanded += line[i];
  }
  let out = '';
  let quoted = false;
  for (let i = 0; i < expanded.length; i++) {
    const ch = expanded[i];
    if (ch === '"') { quoted = !quoted; out += ch; continue; }
    if (!quoted && ch === '^') {
      if (i + 1 >= expanded.length) throw new Error('a trailing caret continues the line');
      out += expanded[++i];
      continue;
    }
    if (!quoted && '&|<>'.includes(ch)) throw new Error(`cmd would run ${JSON.stringify(ch)} as an operator in ${JSON.stringify(line)}`);
    out += ch;
  }
  return out;
}

/**
 * The Microsoft C runtime's argv parsing ("Parsing C command-line arguments", Microsoft Learn,
 * learn.microsoft.com/cpp/c-language/parsing-c-command-line-arguments), the rules
 * CommandLineToArgvW shares for every argument after the program name:
 * 1. Arguments are separated by whitespace: space or tab.
 * 2. A string in double quotes is one argument whatever whitespace it holds; a quoted part can be
 *    embedded in an argument (`a"b c"d` is `ab cd`).
 * 3. Backslashes are literal unless they immediately precede a double quote.
 * 4. 2n backslashes then `"`: n backslashes, and the quote opens or closes a quoted part.
 * 5. 2n+1 backslashes then `"`: n backslashes and a literal `"`.
 * 6. Inside a quoted part, `""` is a literal `"` and the part goes on (the UCRT's rule since 2008).
 */
// The lab's Windows host parses command lines with the same model: one implementation serves both.
const msvcrtArgv = (line: string): string[] => labMsvcrtArgv(line);

const WINDOWS_ENV = { PATH: 'C:\\Windows\\system32', OS: 'Windows_NT', USERNAME: 'admin', A: 'expanded' };

/** What a program started by cmd.exe gets as argv after `prog`. */
const windowsArgv = (line: string): string[] => msvcrtArgv(cmdExeLine(line, WINDOWS_ENV)).slice(1);

const WINDOWS_HOSTILE: Array<[string, string]> = [
  ...HOSTILE.filter(([, v]) => !/[\r\n]/.test(v)),
  ['a path with spaces', 'C:\\Program Files\\App\\'],
  ['a trailing backslash before the closing quote', 'C:\\dir with space\\'],
  ['backslashes before a quote', 'a\\\\"b\\"c'],
  ['cmd variables', '%PATH% %A%%OS%'],
  ['undefined variable then a defined one', '%nope%PATH%'],
  ['carets', '^^ ^ a^'],
  ['parentheses', '(echo x) & (echo y)'],
  ['quote inside, operator after', '"a & b" | c'],
  ['odd quotes', '"""'],
  ['exclamation marks', '!USERNAME! !'],
  ['unicode quotes', '\u201cx\u201d \u2018y\u2019'],
];

describe('quoteWindowsCmd round-trips through cmd.exe and the MSVCRT argv rules', () => {
  it.each(WINDOWS_HOSTILE)('%s', (_, value) => {
    expect(windowsArgv(`prog ${quoteWindowsCmd(value)}`)).toEqual([value]);
  });

  it('several hostile arguments stay separate', () => {
    const values = WINDOWS_HOSTILE.map(([, v]) => v);
    expect(windowsArgv(winCmd`prog ${values}`.text)).toEqual(values);
  });

  it('the models catch a broken quoting (a test that can fail)', () => {
    const naive = (v: string) => `"${v}"`;
    expect(() => windowsArgv(`prog ${naive('a" & calc & "b')}`)).toThrow(/operator/);
    expect(windowsArgv(`prog ${naive('%PATH%')}`)).toEqual([WINDOWS_ENV.PATH]);
    expect(windowsArgv(`prog ${naive('C:\\dir\\')}`)).not.toEqual(['C:\\dir\\']);
  });

  it.each([['newline', 'a\nb'], ['carriage return', 'a\rb'], ['NUL', 'a\0b']])('a %s throws: cmd would end the command there', (_, value) => {
    expect(() => quoteWindowsCmd(value)).toThrow();
  });
});

// ---- PowerShell ----------------------------------------------------------------------------

/** PowerShell's single quotes: ' and the typographic ‘ ’ ‚ ‛ (CharTraits IsSingleQuote). */
const PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b";

/**
 * PowerShell's tokenizer (ScanStringLiteral): inside a single-quoted string nothing is special
 * except a single-quote character; two in a row stand for the second one, a lone one ends it.
 * Returns the string's value and what follows it.
 */
function parsePowerShellLiteral(text: string): { value: string; rest: string } {
  if (!PS_SINGLE_QUOTES.includes(text[0])) throw new Error(`not a single-quoted literal: ${text}`);
  let value = '';
  for (let i = 1; i < text.length; i++) {
    if (!PS_SINGLE_QUOTES.includes(text[i])) { value += text[i]; continue; }
    if (i + 1 < text.length && PS_SINGLE_QUOTES.includes(text[i + 1])) { value += text[++i]; continue; }
    return { value, rest: text.slice(i + 1) };
  }
  throw new Error('unterminated single-quoted string');
}

describe('quotePowerShell round-trips through the single-quoted literal rule', () => {
  const values: Array<[string, string]> = [
    ...HOSTILE,
    ['typographic quotes', '\u2018a\u2019 \u201ab\u201b'],
    ['mixed quotes in a row', "'\u2019'\u2018"],
    ['variables and subexpressions', '$env:PATH $(Get-Process) @splat `n'],
  ];

  it.each(values)('%s', (_, value) => {
    expect(parsePowerShellLiteral(quotePowerShell(value))).toEqual({ value, rest: '' });
  });

  it('two values stay two literals', () => {
    const text = psCmd`${"it's"} ${'\u2019x'}`.text;
    const first = parsePowerShellLiteral(text);
    expect(first.value).toBe("it's");
    expect(parsePowerShellLiteral(first.rest.trimStart())).toEqual({ value: '\u2019x', rest: '' });
  });

  it('the parser catches an undoubled typographic quote (a test that can fail)', () => {
    expect(parsePowerShellLiteral(`'a\u2019b'`)).toEqual({ value: 'a', rest: "b'" });
  });
});
