import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from '../src/suggest.ts';

describe('did you mean', () => {
  it.each([
    ['motd', 'motd', 0], ['mtod', 'motd', 1], ['mesage', 'message', 1], ['aply', 'apply', 1],
    ['xs-0l', 'xs-01', 1], ['abc', 'xyz', 3], ['', 'ab', 2],
  ])('editDistance(%s, %s) = %i (a swap is one edit)', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it.each([
    ['mtod', ['motd', 'leap-second', 'hvm-to-pv'], ['motd']],
    ['local-x', ['local-a', 'local-b', 'web'], ['local-a', 'local-b']],
    ['leap', ['leap-second', 'motd'], ['leap-second']],
    ['frobnicate', ['apply', 'list', 'show'], []],
    ['ab', ['xy', 'zz'], []],
    ['WEB', ['web', 'db'], ['web']],
  ])('suggest(%s) among %j → %j (only close names)', (typed, known, expected) => {
    expect(suggest(typed, known)).toEqual(expected);
  });
});
