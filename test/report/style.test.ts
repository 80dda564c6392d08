import { describe, expect, it } from 'vitest';
import { makeStyle, wantsColor } from '../../src/report/style.ts';

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('colour: --color over FORCE_COLOR over NO_COLOR over the terminal', () => {
  it.each([
    [tty, {}, undefined, true],
    [pipe, {}, undefined, false],
    [tty, { NO_COLOR: '1' }, undefined, false],
    [tty, { NO_COLOR: '' }, undefined, true],
    [tty, { TERM: 'dumb' }, undefined, false],
    [pipe, { FORCE_COLOR: '1' }, undefined, true],
    [pipe, { FORCE_COLOR: '' }, undefined, true],
    [tty, { FORCE_COLOR: '0' }, undefined, false],
    [tty, { FORCE_COLOR: 'false' }, undefined, false],
    [pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }, undefined, true],
    [tty, { FORCE_COLOR: '1' }, false, false],
    [pipe, { NO_COLOR: '1', FORCE_COLOR: '0' }, true, true],
  ] as const)('stream %j, env %j, flag %s → %s', (stream, env, flag, expected) => {
    expect(wantsColor(stream, env, flag)).toBe(expected);
    expect(makeStyle(stream, env, flag).red('x') !== 'x').toBe(expected);
  });
});
