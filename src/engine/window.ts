/**
 * A change window's end, as an operator writes it: an ISO 8601 time (`2026-12-05T06:00:00Z`, an
 * offset, or local time without one), a time of day `HH:MM` (its next occurrence, local time), or a
 * length from now (`+4h`, `90m`, `1h30m`). Null when the text is none of these.
 * @example parseWindowEnd('+2h', new Date('2026-12-04T22:00:00Z')) // 2026-12-05T00:00:00.000Z
 */
export function parseWindowEnd(text: string, now: Date): Date | null {
  const trimmed = text.trim();
  const length = parseLength(trimmed.replace(/^\+/, ''));
  if (length !== null) return new Date(now.getTime() + length);
  const clock = /^(\d{1,2}):(\d{2})$/.exec(trimmed);
  if (clock) return nextTimeOfDay(Number(clock[1]), Number(clock[2]), now);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(trimmed)) return null;
  const date = new Date(trimmed);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `4h`, `90m`, `1h30m`, `2d` → milliseconds; null when not a length. */
export function parseLength(text: string): number | null {
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === '') return null;
  const [d, h, m, s] = match.slice(1).map((n) => Number(n ?? 0));
  return (((d * 24 + h) * 60 + m) * 60 + s) * 1000;
}

function nextTimeOfDay(hours: number, minutes: number, now: Date): Date | null {
  if (hours > 23 || minutes > 59) return null;
  const at = new Date(now);
  at.setHours(hours, minutes, 0, 0);
  if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1);
  return at;
}
