/**
 * The lab's cmd.exe (lab/bin/_wincmd.mjs) hands a program the argv the Microsoft C runtime would
 * parse from the line: hostile values quoted by `winCmd` must arrive byte-exact, one argument each.
 * The program is the lab's XenAppPrep.exe, reached by its path with spaces (quoted by winCmd too);
 * it logs its argv in the host's mutation log, which is what these tests read. No lab server: the
 * emulator runs as the lab server runs it (LAB_CMDLINE, the host's folder in LAB_HOST_DIR).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp, readMutations, type Lab } from '../../lab/lab.ts';
import { msvcrtArgv } from '../../lab/sim/windows/argv.mjs';
import { winCmd } from '../../src/shell/command.ts';

const REPO = join(import.meta.dirname, '..', '..');
const PREP = 'C:\\Program Files\\Citrix\\XenAppPrep\\XenAppPrep.exe';

let root: string;
let hostDir: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'runbook-wincmd-'));
  hostDir = join(root, 'hosts', 'xenapp-01');
  mkdirSync(join(hostDir, 'C', 'Program Files', 'Citrix', 'XenAppPrep'), { recursive: true });
  mkdirSync(join(hostDir, 'proc'), { recursive: true });
  writeFileSync(join(hostDir, 'C', 'Program Files', 'Citrix', 'XenAppPrep', 'XenAppPrep.exe'), 'simulated\n');
  writeFileSync(join(hostDir, 'proc', 'boot_id'), '6f1c0e6e-2b0a-4a57-9d6e-1f2a3b4c5d6e\n');
  writeFileSync(join(hostDir, 'host.json'), JSON.stringify({ name: 'xenapp-01', role: 'windows', vars: { windows_hostname: 'XENAPP-01' } }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs one command line through the lab's cmd.exe; returns its exit status and output. */
function cmdExe(line: string): { code: number | null; stdout: string; stderr: string } {
  const env = { PATH: process.env.PATH ?? '', LAB_ROOT: root, LAB_HOST: 'xenapp-01', LAB_HOST_DIR: hostDir, LAB_ROLE: 'windows', LAB_CMDLINE: line };
  const run = spawnSync(process.execPath, [join(REPO, 'lab', 'bin', '_wincmd.mjs')], { env, encoding: 'utf8', timeout: 20_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const lastArgv = (): string[] => {
  const lines = readFileSync(join(hostDir, 'mutations.jsonl'), 'utf8').trim().split('\n');
  return JSON.parse(lines[lines.length - 1]).argv.slice(1);
};

const CONTROL = Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1)).filter((c) => c !== '\n' && c !== '\r').join('');

const HOSTILE: Array<[string, string]> = [
  ['spaces', 'a b  c'],
  ['a path with spaces and a trailing backslash', 'C:\\Program Files\\App\\'],
  ['backslashes before a quote', 'a\\\\"b\\"c'],
  ['double quotes', '"a" "b"'],
  ['odd quotes', '"""'],
  ['single quotes', "it's"],
  ['cmd operators', 'a & b | c && d || e'],
  ['redirections', '>nul 2>&1 <x'],
  ['parentheses', '(echo x) & (echo y)'],
  ['carets', '^^ ^ a^'],
  ['percent variables', '%PATH% %COMPUTERNAME%%OS%'],
  ['undefined then defined variable', '%nope%PATH%'],
  ['exclamation marks', '!USERNAME! !'],
  ['quote then operator', '"a & b" | c'],
  ['empty string', ''],
  ['one space', ' '],
  ['tab', 'a\tb'],
  ['control bytes', CONTROL],
  ['unicode', 'שלום 🚀 e\u0301 \u201cx\u201d'],
  ['everything', `'"$\`\\ \t*?[a]~!;&|<>()#{}%^`],
];

describe('winCmd values through the lab cmd.exe arrive as the program\'s argv', () => {
  it.each(HOSTILE)('%s', (_, value) => {
    const run = cmdExe(winCmd`${PREP} /pvs ${value} last`.text);
    expect(run.code, run.stderr).toBe(0);
    expect(lastArgv()).toEqual(['/pvs', value, 'last']);
  });

  it('all of them at once stay separate', () => {
    const values = HOSTILE.map(([, v]) => v);
    const run = cmdExe(winCmd`${PREP} ${values}`.text);
    expect(run.code, run.stderr).toBe(0);
    expect(lastArgv()).toEqual(values);
  });

  it('the check can fail: naive double quotes do not survive cmd and the C runtime', () => {
    const run = cmdExe(`"${PREP}" "C:\\dir\\" "%COMPUTERNAME%"`);
    expect(run.code).toBe(0);
    expect(lastArgv()).not.toEqual(['C:\\dir\\', '%COMPUTERNAME%']);
    expect(lastArgv()).toEqual(['C:\\dir" XENAPP-01']);
  });

  it('an unquoted operator in a line runs as an operator (the emulator is not a plain splitter)', () => {
    const run = cmdExe(`"${PREP}" a & hostname`);
    expect(run.stdout).toContain('XENAPP-01\r\n');
    expect(lastArgv()).toEqual(['a']);
  });
});

describe('over SSH, as the lab server hands the line to cmd.exe', () => {
  let stateDir: string;
  let lab: Lab | undefined;
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'runbook-winssh-'));
    lab = await labUp({ stateDir, portBase: 0, hosts: 'xenapp-01' });
  }, 120_000);
  afterAll(async () => {
    await labDown({ stateDir }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('every hostile value arrives as one argument, byte-exact', () => {
    const values = HOSTILE.map(([, v]) => v);
    const port = lab!.hosts[0]!.port;
    const line = winCmd`${PREP} ${values}`.text;
    const ssh = spawnSync('ssh', ['-i', lab!.keyPath, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', line], { encoding: 'utf8', timeout: 30_000 });
    expect(ssh.status, ssh.stderr).toBe(0);
    const logged = readMutations(stateDir, 'xenapp-01').at(-1)!;
    expect(logged.argv).toEqual(['XenAppPrep.exe', ...values]);
  });
});

describe('msvcrtArgv', () => {
  it.each([
    ['a b\tc', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ['a"b c"d', ['ab cd']],
    ['a\\\\b', ['a\\\\b']],
    ['a\\\\"b c"', ['a\\b c']],
    ['a\\"b', ['a"b']],
    ['"a""b"', ['a"b']],
    ['""', ['']],
    ['  ', []],
  ])('%j', (line, argv) => {
    expect(msvcrtArgv(line)).toEqual(argv);
  });
});
