/**
 * Frames (issue 18): one command and the reads after it as one POSIX script. Run here by a real
 * /bin/sh, so the script's quoting and markers are tried, not just its text.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { frameNonce, frameScript, splitFrame } from '../../src/shell/frame.ts';

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
