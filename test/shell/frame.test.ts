/**
 * Frames (issue 18): one command and the reads after it as one POSIX script. Run here by a real
 * /bin/sh, so the script's quoting and markers are tried, not just its text.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { contained, FRAME_END, frameNonce, frameScript, readParts, splitFrame, stepsScript } from '../../src/shell/frame.ts';

const sh = (script: string, stdin = '') => {
  const out = spawnSync('/bin/sh', ['-c', script], { input: stdin, encoding: 'utf8' });
  return { stdout: out.stdout, stderr: out.stderr, status: out.status };
};

describe('frames', () => {
  it('cuts each part\'s own output and status, output without a final newline included', () => {
    const nonce = frameNonce();
    const script = frameScript(nonce, "printf 'no newline'; echo oops >&2; exit 3", ['echo "it\'s $((1+1))"', 'test -e /nonexistent/x']);
    const out = sh(script);
    expect(splitFrame(nonce, 3, out.stdout, out.stderr)).toEqual([
      { stdout: 'no newline', stderr: 'oops\n', code: 3 },
      { stdout: "it's 2\n", stderr: '', code: 0 },
      { stdout: '', stderr: '', code: 1 },
    ]);
  });

  it('feeds stdin to the command only; an exit or cd in one part does not reach the next', () => {
    const nonce = frameNonce();
    const out = sh(frameScript(nonce, 'cd /; cat; exit 0', ['pwd; cat']), 'from stdin');
    const [command, read] = splitFrame(nonce, 2, out.stdout, out.stderr);
    expect(command.stdout).toBe('from stdin');
    expect(read.stdout).toBe(`${execFileSync('/bin/sh', ['-c', 'pwd'], { encoding: 'utf8' })}`);
  });

  it('a syntax error fails its own part only', () => {
    const nonce = frameNonce();
    const out = sh(frameScript(nonce, 'if then fi', ['echo fine']));
    const parts = splitFrame(nonce, 2, out.stdout, out.stderr);
    expect(parts[0].code).not.toBe(0);
    expect(parts[1]).toEqual({ stdout: 'fine\n', stderr: '', code: 0 });
  });

  it('a part whose markers never came (the frame was stopped there) is left out with all after it', () => {
    const nonce = frameNonce();
    const out = sh(frameScript(nonce, 'echo done', ['kill -9 $$; echo never', 'echo never']));
    expect(splitFrame(nonce, 3, out.stdout, out.stderr)).toEqual([{ stdout: 'done\n', stderr: '', code: 0 }]);
  });

  it('output that prints another nonce cannot end a part', () => {
    const nonce = frameNonce();
    const forged = `${frameNonce()}:0 0`;
    const out = sh(frameScript(nonce, `echo ${forged}; echo real`, []));
    expect(splitFrame(nonce, 1, out.stdout, out.stderr)).toEqual([{ stdout: `${forged}\nreal\n`, stderr: '', code: 0 }]);
  });
});

describe('frames of several steps', () => {
  const labels = (script: string, nonce: string) => {
    const out = sh(script);
    return readParts(nonce, out.stdout, out.stderr).map((p) => `${p.label}:${p.code}`);
  };

  it('a probe that passes skips its commands; one that fails runs them and the probe again', () => {
    const nonce = frameNonce();
    const script = stepsScript(nonce, [
      { probe: 'true', commands: ['echo never'], recheck: true },
      { probe: 'false', commands: ['echo one', 'echo two'], recheck: true },
    ]);
    const out = sh(script);
    expect(out.stdout).not.toContain('never');
    // The re-check runs the same probe: still false here, so the step fails and the frame stops.
    expect(readParts(nonce, out.stdout, out.stderr).map((p) => [p.label, p.code, p.stdout])).toEqual([
      ['0.c', 0, ''], ['1.c', 1, ''], ['1.a0', 0, 'one\n'], ['1.a1', 0, 'two\n'], ['1.r', 1, ''], [FRAME_END, 0, ''],
    ]);
  });

  it('stops at the first command that fails, and says it ended', () => {
    const nonce = frameNonce();
    const script = stepsScript(nonce, [
      { probe: 'false', commands: ['exit 3', 'echo never'], recheck: true },
      { commands: ['echo never'], recheck: false },
    ]);
    expect(labels(script, nonce)).toEqual(['0.c:1', '0.a0:3', `${FRAME_END}:0`]);
  });

  it('a step without a probe always runs its commands, and is not re-checked', () => {
    const nonce = frameNonce();
    expect(labels(stepsScript(nonce, [{ commands: ['true'], recheck: false }, { probe: 'true', commands: [], recheck: true }]), nonce))
      .toEqual(['0.a0:0', '1.c:0', `${FRAME_END}:0`]);
  });

  it('checkOnly (a dry-run) sends every probe and nothing else', () => {
    const nonce = frameNonce();
    const script = stepsScript(nonce, [
      { probe: 'false', commands: ['echo never'], recheck: true },
      { commands: ['echo never'], recheck: false },
      { probe: 'true', commands: ['echo never'], recheck: true },
    ], true);
    expect(sh(script).stdout).not.toContain('never');
    expect(labels(script, nonce)).toEqual(['0.c:1', '2.c:0', `${FRAME_END}:0`]);
  });

  it('a script killed midway has no end mark: the parts before the kill are all there is', () => {
    const nonce = frameNonce();
    const script = stepsScript(nonce, [
      { probe: 'false', commands: ['echo first'], recheck: false },
      { probe: 'false', commands: ['kill -9 $$'], recheck: false },
    ]);
    expect(labels(script, nonce)).toEqual(['0.c:1', '0.a0:0', '1.c:1']);
  });

  it('a command cannot read what the caller feeds, nor forge a mark', () => {
    const nonce = frameNonce();
    const out = sh(stepsScript(nonce, [{ commands: [`cat; echo ${frameNonce()}:0.a0 0`], recheck: false }]), 'secret input');
    const [part] = readParts(nonce, out.stdout, out.stderr);
    expect(part.label).toBe('0.a0');
    expect(part.stdout).not.toContain('secret input');
    expect(part.stdout).toMatch(/^[0-9a-f]{24}:0\.a0 0\n$/);
  });
});

describe('parts that run in the frame\'s own shell (no fork)', () => {
  it.each([
    ['grep -qx value=01 "$BENCH_HOST_DIR"/conf-01 2>/dev/null', true],
    ['echo value=01 > "$BENCH_HOST_DIR"/conf-01', true],
    ['! service ntpd status >/dev/null', true],
    ["touch -- '/tmp/a b'", true],
    ['echo "a\\"b"', true],
    ['date -s "$(date)"', false],
    ['cd /; cat; exit 0', false],
    ['exit 3', false],
    ['cd', false],
    ['if then fi', false],
    ["test -e '/a b' || test -L '/a b'", false],
    ['FOO=1', false],
    ['kill -9 $$', false],
    ["echo 'unclosed", false],
    ['cat <<EOF', false],
    ['echo ${X:=1}', false],
    ['echo a &', false],
    ['echo a\nexit 1', false],
  ])('%s → %s', (text, expected) => {
    expect(contained(text)).toBe(expected);
  });

  it('a contained part runs without a fork; one that is not cannot reach the parts after it', () => {
    const nonce = frameNonce();
    const out = sh(stepsScript(nonce, [
      { commands: ['sh -c \'echo $PPID\'', 'cd / && sh -c \'echo $PPID\'', 'exit 0', 'pwd'], recheck: false },
    ]) + 'echo "frame $$"\n');
    const [inShell, inSubshell, exited, pwd] = readParts(nonce, out.stdout, out.stderr);
    const frame = /frame (\d+)/.exec(out.stdout)![1];
    expect(inShell.stdout.trim()).toBe(frame);
    expect(inSubshell.stdout.trim()).not.toBe(frame);
    expect(exited.code).toBe(0);
    expect(pwd.stdout).toBe(`${process.cwd()}\n`);
  });
});

