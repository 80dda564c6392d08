import { describe, expect, it } from 'vitest';
import { Limiter } from '../../src/transport/limiter.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Limiter', () => {
  it('runs at most `limit` at once, in arrival order', async () => {
    const limiter = new Limiter(2);
    const started: number[] = [];
    const gates: Array<() => void> = [];
    const jobs = [0, 1, 2, 3].map((i) => limiter.run(() => new Promise<void>((resolve) => { started.push(i); gates[i] = resolve; })));
    await tick();
    expect(started).toEqual([0, 1]);
    expect([limiter.active, limiter.queued]).toEqual([2, 2]);
    gates[1]();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0](); await tick(); gates[2](); await tick(); gates[3]();
    await Promise.all(jobs);
    expect([limiter.active, limiter.queued]).toEqual([0, 0]);
  });

  it('gives a slot back when the work throws, and only once', async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    const release = await limiter.acquire();
    release(); release();
    expect(limiter.active).toBe(0);
  });

  it('starts queued work when the limit is raised', async () => {
    const limiter = new Limiter(1);
    const first = await limiter.acquire();
    let second = false;
    void limiter.acquire().then(() => { second = true; });
    await tick();
    expect(second).toBe(false);
    limiter.limit = 2;
    await tick();
    expect(second).toBe(true);
    first();
  });

  it('refuses a limit below one', () => {
    expect(() => new Limiter(0)).toThrow(RangeError);
  });
});
