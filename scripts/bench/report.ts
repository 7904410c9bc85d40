/**
 * The benchmark's report: Markdown tables of the builds, the client's overhead and a worker's memory,
 * with the acceptance bars marked.
 *
 * @module
 */

import { type BuildResult, type ConfigResult, meanStepMs, medianModuleMs } from "./builds.ts";
import type { MemoryResult } from "./memory.ts";
import type { OverheadResult } from "./overhead.ts";
import { mib } from "../../lib/server/status.ts";
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
function isO0(r: ConfigResult): boolean {
  return r.config.flags.includes("-O0");
}

/** A successful build, or null. */
function ok(build: BuildResult | null): BuildResult | null {
  return build?.failure === null ? build : null;
}

/** What the tables show of one row, worked out once. */
interface RowFigures {
  cold: BuildResult | null;
  ghcpw: BuildResult | null;
  make: BuildResult | null;
  /** Medians per Haskell module of the one-shot builds, in ms (NaN without a build). */
  coldMedian: number;
  ghcpwMedian: number;
  /** The verdicts against the bars: null where a bar does not apply or a build is missing. */
  medianBar: boolean | null;
  makeBar: boolean | null;
}

/** The figures and verdicts of one row. */
function figures(r: ConfigResult): RowFigures {
  const cold = ok(r.cold);
  const ghcpw = ok(r.ghcpw);
  const make = ok(r.make);
  const coldMedian = cold ? medianModuleMs(cold, r.hsSteps) : NaN;
  const ghcpwMedian = ghcpw ? medianModuleMs(ghcpw, r.hsSteps) : NaN;
  const medianRatio = coldMedian / ghcpwMedian;
  const makeRatio = ghcpw && make ? ghcpw.wallMs / make.wallMs : NaN;
  return {
    cold,
    ghcpw,
    make,
    coldMedian,
    ghcpwMedian,
    medianBar: !isO0(r) || !Number.isFinite(medianRatio) ? null : medianRatio >= MEDIAN_BAR,
    makeBar: Number.isFinite(makeRatio) ? makeRatio <= MAKE_BAR : null,
  };
}

/** "yes"/"NO" for a verdict, "-" where it does not apply. */
function verdict(v: boolean | null): string {
  return v === null ? "-" : v ? "yes" : "NO";
}

/**
 * The results table: wall times per method, medians per module, means per compile (cold, ghcpw, and the
 * part of ghcpw's that its worker spent), the ratio cold/worker of the means (what ghcpw would reach with a
 * client and server that cost nothing), the other ratios and the bars, the hypervisor's share of the CPU
 * during each build, and the check verdicts.
 */
export function resultsTable(results: readonly ConfigResult[]): string {
  const header = [
    "project",
    "flags",
    "-j",
    "--share",
    "modules",
    "cold ghc -c: total / median",
    "ghcpw: total / median",
    "mean: cold / ghcpw / its worker",
    "cold/worker (means)",
    "cold/ghcpw: total / median",
    "ghc --make",
    "ghcpw/--make",
    "bazel worker: total / median",
    "bazel/--make",
    `≥${MEDIAN_BAR}x median (-O0)`,
    `≤${MAKE_BAR}x --make`,
    "steal cold/ghcpw/bazel/make",
    "checks",
  ];
  const rows = results.map((r) => {
    const f = figures(r);
    const { cold: c, ghcpw: g, make: m } = f;
    const b = ok(r.bazel);
    return [
      r.project,
      flagsText(r.config) + (r.note ? ` (${r.note})` : ""),
      String(r.jobs),
      r.share,
      String(r.hsSteps.length),
      c ? `${seconds(c.wallMs)} / ${f.coldMedian.toFixed(0)} ms` : "FAILED",
      g ? `${seconds(g.wallMs)} / ${f.ghcpwMedian.toFixed(0)} ms` : r.ghcpw ? "FAILED" : "not run",
      c && g && r.workerMeanMs !== null
        ? `${meanStepMs(c).toFixed(0)} / ${meanStepMs(g).toFixed(0)} / ${r.workerMeanMs.toFixed(0)} ms`
        : "-",
      c && r.workerMeanMs !== null ? ratio(meanStepMs(c), r.workerMeanMs) : "-",
      c && g ? `${ratio(c.wallMs, g.wallMs)} / ${ratio(f.coldMedian, f.ghcpwMedian)}` : "-",
      m ? seconds(m.wallMs) : r.make ? "FAILED" : "not run",
      g && m ? ratio(g.wallMs, m.wallMs) : "-",
      b
        ? `${seconds(b.wallMs)} / ${medianModuleMs(b, r.hsSteps).toFixed(0)} ms`
        : r.bazel
        ? "FAILED"
        : "not run",
      b && m ? ratio(b.wallMs, m.wallMs) : "-",
      verdict(f.medianBar),
      verdict(f.makeBar),
      [r.cold, r.ghcpw, r.bazel, r.make].map((x) => x?.steal ?? "-").join(" / "),
      r.mismatches.length === 0 ? "ok" : `${r.mismatches.length} MISMATCH`,
    ];
  });
  return formatTable(header, rows);
}

/** One line per bar: in how many rows it is met. */
export function barsSummary(results: readonly ConfigResult[]): string {
  const all = results.map(figures);
  const count = (key: "medianBar" | "makeBar") => {
    const applicable = all.filter((b) => b[key] !== null);
    return `${applicable.filter((b) => b[key]).length}/${applicable.length}`;
  };
  return `Bars: ghcpw ≥${MEDIAN_BAR}x faster than cold ghc per module (median) at -O0 in ${
    count("medianBar")
  } rows; ` +
    `ghcpw's whole build ≤${MAKE_BAR}x ghc --make's in ${count("makeBar")} rows.`;
}

/** The client-overhead table. */
export function overheadTable(o: OverheadResult): string {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  return formatTable(["per request", "time"], [
    [`\`ghcpw ghc\` as a subprocess, wall time (${o.requests} requests): median`, ms(o.wallMedianMs)],
    ["the same: mean", ms(o.wallMeanMs)],
    ["the worker's own time (the server's status): mean", ms(o.workerMeanMs)],
    ["client overhead: wall time minus the worker's own time (means)", ms(o.wallMeanMs - o.workerMeanMs)],
    [`\`ghc --numeric-version\` (${o.versionRuns} runs): median`, ms(o.ghcVersionMs)],
    [`\`ghcpw ghc -- --numeric-version\` (${o.versionRuns} runs): median`, ms(o.ghcpwVersionMs)],
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

/** Stages a worker reports, in the order a request goes through them (lib/plugin/Ghcpw/Stages.hs). */
const STAGE_ORDER = [
  "setup",
  "init",
  "session",
  "preprocess",
  "frontend",
  "desugar-simplify",
  "codegen",
  "assemble",
  "cc",
  "driver",
  "save",
  "finish",
];

/** The server's parts that the answer waits for (the checks after a request run after it). */
const SERVER_PATH_PARTS = ["handshake", "queue", "request-dir", "reply"];

/** "part 1.2, part 3.4" for the parts that took time, in `order` first. */
function parts(times: Record<string, number>, order: readonly string[] = []): string {
  const keys = [...order.filter((k) => k in times), ...Object.keys(times).filter((k) => !order.includes(k))];
  return keys.filter((k) => times[k] >= 0.05).map((k) => `${k} ${times[k].toFixed(1)}`).join(", ");
}

/**
 * Where a ghcpw compile's time goes, per row (means per compile): the worker's stages, the server's
 * parts, and the rest of the wall time (the client process: Deno's start, loading ghcpw, connecting;
 * and whatever the server does that no part times).
 */
export function breakdownTable(results: readonly ConfigResult[]): string {
  const rows = results.flatMap((r) => {
    const g = ok(r.ghcpw);
    if (g === null || r.stagesMs === null || r.serverMs === null || r.workerMeanMs === null) return [];
    const wall = meanStepMs(g);
    const onPath = SERVER_PATH_PARTS.reduce((sum, k) => sum + (r.serverMs![k] ?? 0), 0);
    return [[
      `${r.project} ${flagsText(r.config)} -j${r.jobs}`,
      wall.toFixed(0),
      r.workerMeanMs.toFixed(0),
      parts(r.stagesMs, STAGE_ORDER),
      parts(r.serverMs, SERVER_PATH_PARTS),
      (wall - r.workerMeanMs - onPath).toFixed(0),
    ]];
  });
  return formatTable(
    ["row", "wall", "worker", "worker's stages", "server's parts", "client and rest"],
    rows,
  );
}

/**
 * A few modules each recompiled alone through ghcpw, stage by stage, beside the same module's phases
 * inside `ghc --make -j1` (its -ddump-timings: CPU time of the ghc process, so no assembler; on GHC 9.0 a
 * worker's "frontend" also holds desugaring and simplifying, which GHC 9.0's pipeline runs in one phase).
 */
export function moduleStagesTable(results: readonly ConfigResult[]): string {
  const rows = results.flatMap((r) =>
    r.modules.map((m) => [
      `${r.project} ${flagsText(r.config)}`,
      m.module,
      ...STAGE_ORDER.map((stage) => {
        const own = m.ghcpw[stage];
        const make = m.make?.[stage];
        const ms = (x: number | undefined) => x === undefined || x < 0.05 ? "-" : x.toFixed(1);
        return make === undefined ? ms(own) : `${ms(own)} / ${ms(make)}`;
      }),
    ])
  );
  return formatTable(["row", "module", ...STAGE_ORDER], rows);
}
