/**
 * Sums of wall time by part, for `ghcpw status`: how long the server and its workers spent on each part
 * of the requests they served (lib/server/status.ts shows them). Always on, so they cost one clock
 * reading per part and request.
 *
 * @module
 */

/** Milliseconds by part, summed over requests. */
export type TimeSums = Record<string, number>;

/** Adds `ms` to a part's sum. */
export function addTime(sums: TimeSums, part: string, ms: number): void {
  sums[part] = (sums[part] ?? 0) + ms;
}

/** Runs `action` and adds its wall time to `part`, whether it succeeds or throws. */
export async function timed<T>(sums: TimeSums, part: string, action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await action();
  } finally {
    addTime(sums, part, performance.now() - started);
  }
}

/** The sums rounded to tenths of a millisecond, for JSON. */
export function roundedSums(sums: TimeSums): TimeSums {
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}
