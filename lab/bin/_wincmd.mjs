#!/usr/bin/env node
/**
 * cmd.exe for the lab's Windows host: Windows OpenSSH runs every exec request as `cmd.exe /c
 * COMMAND`, so the lab server hands a windows-role host's command line here (env LAB_CMDLINE).
 * What cmd does that runbooks rely on: %VAR% expansion when the line is read (so %ERRORLEVEL% is
 * the value before the line ran), `&` `&&` `||` `|`, `( … )` groups, `if [not] exist|errorlevel|
 * defined|"a"=="b" … [else …]`, redirections (`>nul`, `2>&1`, `>>file`), `^` escapes, quotes, and
 * the exit status of the last command. The programs live in _win.mjs.
 * Usage (lab server): LAB_CMDLINE='hostname & exit /b 3' node _wincmd.mjs
 */
import { readFileSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { loadState, programFor, resolveWinPath, winEnv } from './_win.mjs';
import { msvcrtArgv } from '../sim/windows/argv.mjs';

/** One cmd.exe session: its environment, current directory and errorlevel. */
class Session {
  constructor() {
    this.state = loadState();
    this.env = winEnv(this.state);
    this.cwd = 'C:\\Users\\Administrator';
    this.errorlevel = 0;
    this.exited = false;
  }

  /** Runs a command line; returns its exit status. */
  run(line, io) {
    const expanded = this.expand(line);
    const ast = new Parser(tokenize(expanded)).parseSequence();
    return this.exec(ast, io);
  }

  /** %VAR% expansion at read time, as cmd does (unknown variables stay as typed). */
  expand(line) {
    return line.replace(/%([^%\s]+)%/g, (whole, name) => {
      if (name.toUpperCase() === 'ERRORLEVEL') return String(this.errorlevel);
      if (name.toUpperCase() === 'CD') return this.cwd;
      const key = Object.keys(this.env).find((k) => k.toUpperCase() === name.toUpperCase());
      return key ? this.env[key] : whole;
    });
  }

  exec(node, io) {
    if (this.exited) return this.errorlevel;
    switch (node.type) {
      case 'seq': return this.execSeq(node, io);
      case 'group': return this.exec(node.body, io);
      case 'if': return this.execIf(node, io);
      case 'pipe': return this.execPipe(node, io);
      default: return this.execCommand(node, io);
    }
  }

  execSeq(node, io) {
    let code = 0;
    for (const { op, node: child } of node.items) {
      if (op === '&&' && code !== 0) continue;
      if (op === '||' && code === 0) continue;
      code = this.exec(child, io);
      if (this.exited) break;
    }
    return code;
  }

  execIf(node, io) {
    let holds;
    if (node.kind === 'exist') holds = existsSync(resolveWinPath(unquote(node.left), this.cwd));
    else if (node.kind === 'errorlevel') holds = this.errorlevel >= Number(node.left);
    else if (node.kind === 'defined') holds = Object.keys(this.env).some((k) => k.toUpperCase() === node.left.toUpperCase());
    else holds = node.insensitive ? unquote(node.left).toLowerCase() === unquote(node.right).toLowerCase() : unquote(node.left) === unquote(node.right);
    if (node.negate) holds = !holds;
    if (holds) return this.exec(node.then, io);
    return node.else ? this.exec(node.else, io) : this.errorlevel;
  }

  /** `a | b`: a's stdout becomes b's stdin (programs here are functions, so no processes). */
  execPipe(node, io) {
    let input = io.stdin;
    let code = 0;
    node.commands.forEach((command, i) => {
      const last = i === node.commands.length - 1;
      const captured = { stdin: input, out: '', err: io.err };
      code = this.execCommand(command, last ? { ...io, stdin: input } : captured);
      input = captured.out;
    });
    return code;
  }

  execCommand(node, io) {
    const target = { out: io.out, err: io.err };
    const sinks = this.openRedirects(node.redirects, io, target);
    if (sinks === null) return (this.errorlevel = 1);
    const words = node.words;
    const name = unquote(words[0] ?? '').toLowerCase();
    const write = (text) => sinks.out(text);
    const writeErr = (text) => sinks.err(text);
    let code;
    const builtin = BUILTINS[name];
    if (builtin) code = builtin(this, node, { write, writeErr, stdin: sinks.stdin });
    else {
      // A program gets argv as the C runtime parses the line cmd hands it (quotes, backslashes).
      const argv = msvcrtArgv(node.raw);
      const program = programFor(argv[0] ?? '', this.cwd);
      if (!program) {
        writeErr(`'${argv[0] ?? ''}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`);
        code = 9009;
      } else {
        code = program(argv.slice(1), { write, writeErr, stdin: sinks.stdin, session: this, raw: node.raw });
      }
    }
    sinks.flush();
    this.errorlevel = code;
    return code;
  }

  /** `>nul`, `2>nul`, `>f`, `>>f`, `2>&1`, `<f`: returns writers for this command, or null on a bad path. */
  openRedirects(redirects, io, target) {
    const buffers = new Map();
    let out = (t) => (io.out === undefined ? undefined : writeTo(io, 'out', t));
    let err = (t) => writeTo(io, 'err', t);
    let stdin = io.stdin;
    for (const r of redirects) {
      const fd = r.fd ?? (r.op === '<' ? 0 : 1);
      if (r.op === '<') {
        stdin = readFileSync(resolveWinPath(r.path, this.cwd), 'utf8');
        continue;
      }
      if (r.path === '&1' || r.path === '&2') {
        const to = r.path === '&1' ? out : err;
        if (fd === 2) err = to;
        else out = to;
        continue;
      }
      const sink = r.path.toLowerCase() === 'nul' ? () => {} : fileSink(resolveWinPath(r.path, this.cwd), r.op === '>>', buffers);
      if (fd === 2) err = sink;
      else out = sink;
    }
    void target;
    return {
      out: (t) => out(t),
      err: (t) => err(t),
      stdin,
      flush: () => buffers.forEach((b, path) => (b.append ? appendFileSync(path, b.text) : writeFileSync(path, b.text))),
    };
  }
}

function writeTo(io, stream, text) {
  if (stream === 'out') {
    if (typeof io.out === 'string' || io.captured) io.out += text;
    else io.out(text);
  } else io.err(text);
}

function fileSink(path, append, buffers) {
  buffers.set(path, { text: '', append });
  return (t) => (buffers.get(path).text += t);
}

/** Strips cmd's double quotes from one word. */
export function unquote(word) {
  return String(word).replace(/"/g, '');
}

const BUILTINS = {
  echo: (session, node, io) => {
    const text = node.raw.replace(/^\s*echo(\.|\s)?/i, '');
    if (/^\s*$/.test(text) && !/^\s*echo\./i.test(node.raw)) io.write('ECHO is on.\r\n');
    else io.write(`${text.replace(/\s+$/, '')}\r\n`);
    return 0;
  },
  exit: (session, node) => {
    const args = node.words.slice(1).map(unquote);
    const code = Number(args.find((a) => a.toLowerCase() !== '/b') ?? session.errorlevel) || 0;
    session.exited = true;
    return code;
  },
  rem: () => 0,
  ver: (session, node, io) => (io.write('\r\nMicrosoft Windows [Version 6.0.6002]\r\n'), 0),
  cd: (session, node, io) => changeDir(session, node, io),
  chdir: (session, node, io) => changeDir(session, node, io),
  set: (session, node, io) => {
    const text = node.raw.replace(/^\s*set\s*/i, '').replace(/"/g, '');
    if (!text.includes('=')) {
      const shown = Object.entries(session.env).filter(([k]) => k.toUpperCase().startsWith(text.toUpperCase()));
      if (shown.length === 0) return (io.writeErr(`Environment variable ${text} not defined\r\n`), 1);
      for (const [k, v] of shown) io.write(`${k}=${v}\r\n`);
      return 0;
    }
    const [key, ...rest] = text.split('=');
    session.env[key.trim()] = rest.join('=');
    return 0;
  },
  type: (session, node, io) => {
    for (const word of node.words.slice(1)) {
      const path = resolveWinPath(unquote(word), session.cwd);
      if (!existsSync(path)) return (io.writeErr('The system cannot find the file specified.\r\n'), 1);
      io.write(readFileSync(path, 'utf8'));
    }
    return 0;
  },
};

function changeDir(session, node, io) {
  const args = node.words.slice(1).map(unquote).filter((a) => a.toLowerCase() !== '/d');
  if (args.length === 0) return (io.write(`${session.cwd}\r\n`), 0);
  const wanted = args.join(' ');
  const absolute = /^[a-z]:/i.test(wanted) ? wanted : `${session.cwd}\\${wanted}`;
  if (!existsSync(resolveWinPath(absolute, session.cwd))) return (io.writeErr('The system cannot find the path specified.\r\n'), 1);
  session.cwd = absolute.replace(/\\+$/, '');
  return 0;
}

/** Tokens: words (quotes kept), operators, redirections; `^` escapes outside quotes. */
export function tokenize(line) {
  const tokens = [];
  let word = '';
  let raw = '';
  let quoted = false;
  const flush = () => {
    if (word !== '') tokens.push({ type: 'word', value: word, raw });
    word = '';
    raw = '';
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      word += c;
      raw += c;
      if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') { quoted = true; word += c; raw += c; continue; }
    if (c === '^' && i + 1 < line.length) { word += line[++i]; raw += line[i]; continue; }
    if (c === ' ' || c === '\t') { flush(); tokens.push({ type: 'space', value: c }); continue; }
    const two = line.slice(i, i + 2);
    if (two === '&&' || two === '||') { flush(); tokens.push({ type: 'op', value: two }); i++; continue; }
    if (c === '&' || c === '|' || c === '(' || c === ')') {
      // "2>&1" is a redirection, not an operator
      if (c === '&' && /^[12]?>$/.test(word)) { word += c; raw += c; continue; }
      flush();
      tokens.push({ type: 'op', value: c });
      continue;
    }
    if (c === '>' || c === '<') {
      const fd = /^[12]$/.test(word) ? word : '';
      if (fd) { word = ''; raw = ''; }
      flush();
      const op = line[i + 1] === '>' ? (i++, '>>') : c;
      tokens.push({ type: 'redirect', op, fd: fd ? Number(fd) : undefined });
      continue;
    }
    word += c;
    raw += c;
  }
  if (quoted) throw new Error('unbalanced quotes');
  flush();
  return tokens;
}

/** A small recursive-descent parser over the tokens. */
class Parser {
  constructor(tokens) {
    this.tokens = tokens;
    this.pos = 0;
  }

  peek() {
    while (this.tokens[this.pos]?.type === 'space') this.pos++;
    return this.tokens[this.pos];
  }

  parseSequence(inGroup = false) {
    const items = [];
    let op = '&';
    for (;;) {
      const next = this.peek();
      if (!next || (inGroup && next.type === 'op' && next.value === ')')) break;
      if (next.type === 'op' && ['&', '&&', '||'].includes(next.value)) {
        op = next.value;
        this.pos++;
        continue;
      }
      items.push({ op, node: this.parsePipeline(inGroup) });
      op = '&';
    }
    return { type: 'seq', items };
  }

  parsePipeline(inGroup) {
    const commands = [this.parseUnit(inGroup)];
    while (this.peek()?.type === 'op' && this.peek().value === '|') {
      this.pos++;
      commands.push(this.parseUnit(inGroup));
    }
    return commands.length === 1 ? commands[0] : { type: 'pipe', commands };
  }

  parseUnit(inGroup) {
    const next = this.peek();
    if (next?.type === 'op' && next.value === '(') {
      this.pos++;
      const body = this.parseSequence(true);
      if (this.peek()?.value === ')') this.pos++;
      return { type: 'group', body };
    }
    if (next?.type === 'word' && next.value.toLowerCase() === 'if') return this.parseIf(inGroup);
    return this.parseSimple(inGroup);
  }

  parseIf(inGroup) {
    this.pos++;
    const words = () => this.peek()?.type === 'word' ? this.tokens[this.pos++].value : '';
    const node = { type: 'if', negate: false, insensitive: false };
    let word = words();
    if (word.toLowerCase() === '/i') { node.insensitive = true; word = words(); }
    if (word.toLowerCase() === 'not') { node.negate = true; word = words(); }
    const kind = word.toLowerCase();
    if (['exist', 'errorlevel', 'defined'].includes(kind)) {
      node.kind = kind;
      node.left = words();
    } else {
      const [left, right] = word.includes('==') ? word.split('==') : [word, (this.pos++, words())];
      Object.assign(node, { kind: 'compare', left, right: right || words() });
    }
    // The body: a parenthesised group (then an optional else), or the rest of the line.
    if (this.peek()?.value === '(') {
      node.then = this.parseUnit(inGroup);
      if (this.peek()?.type === 'word' && this.peek().value.toLowerCase() === 'else') {
        this.pos++;
        node.else = this.peek()?.value === '(' ? this.parseUnit(inGroup) : this.parseSequence(inGroup);
      }
    } else node.then = this.parseSequence(inGroup);
    return node;
  }

  parseSimple(inGroup) {
    const words = [];
    const redirects = [];
    const raws = [];
    for (;;) {
      const t = this.tokens[this.pos];
      if (!t) break;
      if (t.type === 'op' && (t.value !== ')' || inGroup)) break;
      this.pos++;
      // The blank itself: a tab inside a caret-quoted value must reach the program as a tab.
      if (t.type === 'space') { raws.push(t.value ?? ' '); continue; }
      if (t.type === 'redirect') {
        while (this.tokens[this.pos]?.type === 'space') this.pos++;
        const target = this.tokens[this.pos++];
        redirects.push({ op: t.op, fd: t.fd, path: unquote(target?.value ?? '') });
        continue;
      }
      words.push(t.value);
      raws.push(t.raw ?? t.value);
    }
    return { type: 'command', words, redirects, raw: raws.join('').trim() };
  }
}

function main() {
  const line = process.env.LAB_CMDLINE ?? process.argv.slice(2).join(' ');
  const session = new Session();
  const io = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    stdin: undefined,
  };
  let code;
  try {
    code = session.run(line, io);
  } catch (error) {
    process.stderr.write(`${error.message === 'unbalanced quotes' ? 'The syntax of the command is incorrect.' : error.message}\r\n`);
    code = 1;
  }
  // Windows exit codes are 32-bit (9009: not recognized); a Linux exit status keeps 8 bits, so
  // the full code also goes to fd 3 when the lab server opened it.
  try {
    writeFileSync(3, String(code));
  } catch {
    // run by hand: no fd 3
  }
  process.exitCode = code & 0xff;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) main();
