/**
 * Durations as people write and read them: options such as `--idle-timeout 15m`, and messages. Not in
 * lib/server/lifecycle.ts, which is server code: command-line parsing (lib/commands/options.ts) needs them, and
 * the client loads that.
 *
 * @module
 */

/**
 * Parses a duration: a number of seconds, or a number with a unit (`ms`, `s`, `m`, `h`, `d`); resolves to
 * milliseconds. Throws on anything else, naming `what`.
 */
export function parseDuration(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (match === null) {
    throw new RangeError(`${what} needs a duration such as 90, 90s, 15m or 2h; got ${JSON.stringify(text)}`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? "s"]!;
  return Math.round(Number(match[1]) * unit);
}

/** A duration for people: "45 s", "15 min", "2 h". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 360_000) / 10} h`;
}
