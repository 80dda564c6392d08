import type { Io } from './options.ts';
import type { Terminal } from './prompt.ts';

/**
 * Reads a line from the terminal without echoing it (a password, a key passphrase). Asked in the
 * middle of a run (a key passphrase at connect), it holds the terminal so the live progress does
 * not draw over the question.
 */
export async function askSecret(question: string, io: Io, terminal?: Terminal): Promise<string | undefined> {
  const stdin = io.stdin as NodeJS.ReadStream;
  if (!stdin.isTTY) return undefined;
  const release = terminal?.hold();
  io.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); resolve(answer); return; }
          if (ch === '\u0003') { stdin.off('data', onData); reject(new Error('cancelled')); return; }
          if (ch === '\u007f') answer = answer.slice(0, -1);
          else answer += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    io.stderr.write('\n');
    release?.();
  }
}
