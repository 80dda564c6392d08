/**
 * How a Windows program started by cmd.exe gets its argv: the Microsoft C runtime's parsing of the
 * command line cmd hands it ("Parsing C command-line arguments", Microsoft Learn,
 * learn.microsoft.com/cpp/c-language/parsing-c-command-line-arguments; the rules
 * CommandLineToArgvW shares for every argument after the program name). cmd itself only removes
 * `^` escapes and expands %VAR% before this; the quotes stay in the line and reach the runtime.
 *
 * 1. Arguments are separated by spaces or tabs.
 * 2. A double-quoted part is one argument whatever whitespace it holds, and can be embedded
 *    (`a"b c"d` is `ab cd`).
 * 3. Backslashes are literal unless they immediately precede a double quote.
 * 4. 2n backslashes then `"`: n backslashes, and the quote opens or closes a quoted part.
 * 5. 2n+1 backslashes then `"`: n backslashes and a literal `"`.
 * 6. Inside a quoted part, `""` is a literal `"` and the part goes on (the UCRT's rule since 2008).
 *
 * The program name (argv[0]) follows the same rules here; Windows finds the executable the same way
 * for the forms runbooks use (a bare name, a quoted path).
 * @param {string} line the command line after cmd's escape removal
 * @returns {string[]}
 */
export function msvcrtArgv(line) {
  const args = [];
  const blank = (c) => c === ' ' || c === '\t';
  let i = 0;
  for (;;) {
    while (blank(line[i])) i++;
    if (i >= line.length) return args;
    let arg = '';
    let quoted = false;
    while (i < line.length && (quoted || !blank(line[i]))) {
      if (line[i] === '\\') {
        let n = 0;
        while (line[i] === '\\') { n++; i++; }
        if (line[i] !== '"') { arg += '\\'.repeat(n); continue; }
        arg += '\\'.repeat(Math.floor(n / 2));
        if (n % 2 === 1) { arg += '"'; i++; continue; }
      }
      if (line[i] === '"') {
        if (quoted && line[i + 1] === '"') { arg += '"'; i += 2; continue; }
        quoted = !quoted;
        i++;
        continue;
      }
      arg += line[i++];
    }
    args.push(arg);
  }
}
