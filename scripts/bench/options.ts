/**
 * Reading the benchmark's command-line values, shared by its scenarios (scripts/bench.ts and
 * scripts/bench/incremental.ts).
 *
 * @module
 */

/** An option's value as a whole number of at least `min`; anything else is an error naming the option. */
export function wholeNumber(option: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new Error(`${option} needs a whole number >= ${min}, got "${text}"`);
  }
  return n;
}

/** A repeatable option's values, each of which may also be a comma-separated list. */
export function listOption(values: string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}
