/**
 * The channel collector driven by a fake channel, for the cases a real OpenSSH never produces on
 * demand: a channel that closes without an exit status, and one whose connection is gone.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { UnreachableError } from '../../src/errors.ts';
import { collect } from '../../src/transport/ssh/channel.ts';

/** Just enough of an ssh2 ClientChannel: events, stderr, end/close and the state trySignal reads. */
class FakeChannel extends EventEmitter {
  stderr = new EventEmitter();
  written: Buffer | undefined;
  closed = false;
  signals: string[] = [];
  outgoing = { id: 7, state: 'open' };
  _client = { _protocol: { signal: (_id: number, name: string) => { this.signals.push(name); } } };
  end(data?: Buffer) { this.written = data; this.outgoing.state = 'eof'; }
  close() { this.closed = true; setImmediate(() => this.emit('close')); }
}

const run = (channel: FakeChannel, limits: Partial<Parameters<typeof collect>[2]> = {}) =>
  collect(channel as never, Buffer.from('in'), { killGraceMs: 50, lost: () => undefined, ...limits });

describe('collect', () => {
  it('reports a channel closed without an exit status as code null, never 0', async () => {
    const channel = new FakeChannel();
    const result = run(channel);
    channel.emit('data', Buffer.from('out'));
    channel.stderr.emit('data', Buffer.from('err'));
    channel.emit('close');
    expect(await result).toMatchObject({ code: null, signal: null, timedOut: false });
    expect((await result).stdout.toString()).toBe('out');
    expect(channel.written?.toString()).toBe('in');
  });

  it('keeps an exit status and names a signal without its SIG prefix', async () => {
    const exited = new FakeChannel();
    const first = run(exited);
    exited.emit('exit', 3);
    exited.emit('close');
    expect((await first).code).toBe(3);
    const killed = new FakeChannel();
    const second = run(killed);
    killed.emit('exit', null, 'SIGKILL', false, '');
    killed.emit('close');
    expect(await second).toMatchObject({ code: null, signal: 'KILL' });
  });

  it('on timeout sends TERM, then KILL and closes the channel after the grace', async () => {
    const channel = new FakeChannel();
    const result = await run(channel, { timeoutMs: 20 });
    expect(result).toMatchObject({ timedOut: true, code: null });
    expect(channel.signals).toEqual(['TERM', 'KILL']);
    expect(channel.closed).toBe(true);
  });

  it('rejects with UnreachableError when the connection died under the command', async () => {
    const channel = new FakeChannel();
    const result = run(channel, { lost: () => new UnreachableError('db1', 'the connection was lost') });
    channel.emit('close');
    await expect(result).rejects.toThrow(UnreachableError);
  });
});
