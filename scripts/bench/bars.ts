/**
 * The benchmark's acceptance bars, as issue 15 sets them ("Done when"), and the verdicts of measured figures
 * against them. The bar is `ghc --make` itself: the older one, ghcpw ≥4x faster than cold ghc per module,
 * was withdrawn because a module's own work, which no kept state saves, is most of a cold compile.
 *
 * @module
 */

/** The client's overhead per compile (`ghcpw ghc` wall time minus its worker's time), median: at most this. */
export const OVERHEAD_BAR_MS = 25;
/**
 * The worker's own time per compile at most this multiple of a compile's cost inside `ghc --make -j1` (its
 * wall time over its compiles). One job only: at two, `--make`'s wall time per compile is about half a
 * compile's cost, as two run at once, so it measures no module's cost.
 */
export const WORKER_BAR = 1.05;
/** A whole build through `ghcpw ghc` at most this multiple of `ghc --make`'s at one job... */
export const GHCPW_BAR_ONE_JOB = 1.2;
/** ...and this at two jobs: with two, per-module builds must be no slower than `--make`. */
export const GHCPW_BAR_TWO_JOBS = 1.0;
/** A whole build through the Bazel worker protocol at most this multiple of `ghc --make`'s, at one job. */
export const BAZEL_BAR = 1.05;

/**
 * A row's standing against a bar: "n/a" where the bar does not apply to the row (its -j), "-" where a figure
 * is missing (a build failed or did not run).
 */
export type Verdict = "met" | "not met" | "n/a" | "-";

/** `value` against an upper bound, "-" for a missing (non-finite) value. */
export function atMost(value: number, bar: number): Verdict {
  return !Number.isFinite(value) ? "-" : value <= bar ? "met" : "not met";
}

/** The client overhead's verdict, from the median per compile in ms. */
export function overheadVerdict(medianMs: number): Verdict {
  return atMost(medianMs, OVERHEAD_BAR_MS);
}

/**
 * The worker's own time per compile over a compile's share of `ghc --make`'s wall time: the worker's mean
 * against `--make`'s wall time divided by the same number of compiles (C sources and hs-boot files count on
 * both sides, as the server counts every request).
 */
export function workerRatio(workerMeanMs: number, makeWallMs: number, compiles: number): number {
  return workerMeanMs / (makeWallMs / compiles);
}

/** The worker bar's verdict for a row at `jobs`, from {@linkcode workerRatio}. */
export function workerVerdict(ratio: number, jobs: number): Verdict {
  return jobs === 1 ? atMost(ratio, WORKER_BAR) : "n/a";
}

/** The bar of a ghcpw build over `--make`'s at `jobs`, or null where the issue sets none (over two jobs). */
export function ghcpwBar(jobs: number): number | null {
  return jobs === 1 ? GHCPW_BAR_ONE_JOB : jobs === 2 ? GHCPW_BAR_TWO_JOBS : null;
}

/** The ghcpw build bar's verdict for a row at `jobs`, from the build's wall time over `--make`'s. */
export function ghcpwVerdict(ratio: number, jobs: number): Verdict {
  const bar = ghcpwBar(jobs);
  return bar === null ? "n/a" : atMost(ratio, bar);
}

/** The Bazel worker bar's verdict for a row at `jobs`, from its build's wall time over `--make`'s. */
export function bazelVerdict(ratio: number, jobs: number): Verdict {
  return jobs === 1 ? atMost(ratio, BAZEL_BAR) : "n/a";
}

/** "k/n": in how many of the rows a bar applies to and has figures for it is met. */
export function metCount(verdicts: readonly Verdict[]): string {
  const judged = verdicts.filter((v) => v === "met" || v === "not met");
  return `${judged.filter((v) => v === "met").length}/${judged.length}`;
}
