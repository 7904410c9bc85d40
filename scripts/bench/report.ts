/**
 * The benchmark's report: Markdown tables of the builds, the client's overhead and a worker's memory,
 * with the acceptance bars marked.
 *
 * @module
 */

import { type BuildResult, type ConfigResult, medianModuleMs } from "./builds.ts";
import type { MemoryResult } from "./memory.ts";
import type { OverheadResult } from "./overhead.ts";
import { mib } from "../../lib/status.ts";
import { seconds } from "./process.ts";
import { flagsText } from "./projects.ts";

/** ghcpw must be at least this much faster than cold ghc per module (median) at -O0. */
export const MEDIAN_BAR = 4;
/** ghcpw's whole build must take at most this multiple of `ghc --make`'s at the same -j. */
export const MAKE_BAR = 1.25;

/** A ratio such as `3.10x`, or "-". */
export function ratio(a: number, b: number): string {
  return Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "-";
}

/** Lays out rows as a Markdown table with padded columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** Whether the median bar applies to a row: its flags say -O0. */
export function isO0(r: ConfigResult): boolean {
  return r.config.flags.includes("-O0");
}

/** A successful build, or null. */
function ok(build: BuildResult | null): BuildResult | null {
  return build?.failure === null ? build : null;
}

/** The median per Haskell module of a one-shot build. */
function medianOf(r: ConfigResult, build: BuildResult): number {
  return medianModuleMs(build, r.hsSteps);
}

/** The verdicts of one row: cold/ghcpw median ratio and ghcpw/--make ratio, against the bars. */
export function bars(r: ConfigResult): { median: boolean | null; make: boolean | null } {
  const g = ok(r.ghcpw);
  const m = ok(r.make);
  const medianRatio = g ? medianOf(r, r.cold) / medianOf(r, g) : NaN;
  const makeRatio = g && m ? g.wallMs / m.wallMs : NaN;
  return {
    median: !isO0(r) || !Number.isFinite(medianRatio) ? null : medianRatio >= MEDIAN_BAR,
    make: Number.isFinite(makeRatio) ? makeRatio <= MAKE_BAR : null,
  };
}

/** "yes"/"NO" for a verdict, "-" where it does not apply. */
function verdict(v: boolean | null): string {
  return v === null ? "-" : v ? "yes" : "NO";
}

/** The results table: wall times per method, medians per module, ratios, bars and the check verdicts. */
export function resultsTable(results: readonly ConfigResult[]): string {
  const header = [
    "project",
    "flags",
    "-j",
    "modules",
    "cold ghc -c: total / median",
    "ghcpw: total / median",
    "cold/ghcpw: total / median",
    "ghc --make",
    "ghcpw/--make",
    `≥${MEDIAN_BAR}x median (-O0)`,
    `≤${MAKE_BAR}x --make`,
    "checks",
  ];
  const rows = results.map((r) => {
    const g = ok(r.ghcpw);
    const m = ok(r.make);
    const c = r.cold.failure === null ? r.cold : null;
    const b = bars(r);
    return [
      r.project,
      flagsText(r.config) + (r.note ? ` (${r.note})` : ""),
      String(r.jobs),
      String(r.hsSteps.length),
      c ? `${seconds(c.wallMs)} / ${medianOf(r, c).toFixed(0)} ms` : "FAILED",
      g ? `${seconds(g.wallMs)} / ${medianOf(r, g).toFixed(0)} ms` : r.ghcpw ? "FAILED" : "not run",
      c && g ? `${ratio(c.wallMs, g.wallMs)} / ${ratio(medianOf(r, c), medianOf(r, g))}` : "-",
      m ? seconds(m.wallMs) : r.make ? "FAILED" : "not run",
      g && m ? ratio(g.wallMs, m.wallMs) : "-",
      verdict(b.median),
      verdict(b.make),
      r.mismatches.length === 0 ? "ok" : `${r.mismatches.length} MISMATCH`,
    ];
  });
  return formatTable(header, rows);
}

/** One line per bar: in how many rows it is met. */
export function barsSummary(results: readonly ConfigResult[]): string {
  const all = results.map(bars);
  const count = (key: "median" | "make") => {
    const applicable = all.filter((b) => b[key] !== null);
    return `${applicable.filter((b) => b[key]).length}/${applicable.length}`;
  };
  return `Bars: ghcpw ≥${MEDIAN_BAR}x faster than cold ghc per module (median) at -O0 in ${
    count("median")
  } rows; ` +
    `ghcpw's whole build ≤${MAKE_BAR}x ghc --make's in ${count("make")} rows.`;
}

/** The client-overhead table. */
export function overheadTable(o: OverheadResult): string {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  return formatTable(["per request (median)", "time"], [
    [`\`ghcpw ghc\` as a subprocess (${o.requests} requests)`, ms(o.subprocessMs)],
    ["the same requests in-process through lib/client.ts (server + worker)", ms(o.inProcessMs)],
    ["client overhead: difference of the two medians", ms(o.subprocessMs - o.inProcessMs)],
    ["client overhead: median of the differences of each pair", ms(o.pairedDifferenceMs)],
    [`\`ghc --numeric-version\` (${o.versionRuns} runs)`, ms(o.ghcVersionMs)],
    [`\`ghcpw ghc -- --numeric-version\` (${o.versionRuns} runs)`, ms(o.ghcpwVersionMs)],
  ]);
}

/** The worker-memory table. */
export function memoryTable(m: MemoryResult): string {
  return formatTable(
    ["checkpoint", "requests the worker served", "worker resident", "worker peak (VmHWM)", "server resident"],
    m.readings.map((r) => [
      String(r.checkpoint),
      String(r.requests),
      mib(r.rssBytes),
      mib(r.peakBytes),
      mib(r.serverRssBytes),
    ]),
  );
}
