/**
 * The benchmark's report: Markdown tables of the builds, the client's overhead and a worker's memory,
 * with each row's verdicts against the acceptance bars (bars.ts).
 *
 * @module
 */

import {
  BAZEL_BAR,
  bazelVerdict,
  GHCPW_BAR_ONE_JOB,
  GHCPW_BAR_TWO_JOBS,
  ghcpwVerdict,
  metCount,
  OVERHEAD_BAR_MS,
  overheadVerdict,
  type Verdict,
  WORKER_BAR,
  workerRatio,
  workerVerdict,
} from "./bars.ts";
import {
  type BuildResult,
  type ConfigResult,
  firstMiddleLast,
  meanStepMs,
  medianModuleMs,
} from "./builds.ts";
import type { MemoryResult } from "./memory.ts";
import type { OverheadResult } from "./overhead.ts";
import { mib } from "../../lib/server/status.ts";
import { seconds } from "./process.ts";
import { DENO_RUN_ARGS } from "./server.ts";
import { flagsText } from "./projects.ts";
import type { StageTimes } from "./make_phases.ts";

/** A ratio such as `3.10x`, or "-" where a figure is missing. */
function times(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : "-";
}

/** The ratio a/b as {@linkcode times} shows it. */
export function ratio(a: number, b: number): string {
  return times(a / b);
}

/** Lays out rows as a Markdown table with padded columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** A successful build, or null. */
function ok(build: BuildResult | null): BuildResult | null {
  return build?.failure === null ? build : null;
}

/** What the tables show of one row, worked out once. */
interface RowFigures {
  cold: BuildResult | null;
  ghcpw: BuildResult | null;
  bazel: BuildResult | null;
  make: BuildResult | null;
  /** Medians per Haskell module of the one-shot builds, in ms (NaN without a build). */
  coldMedian: number;
  ghcpwMedian: number;
  /** A compile's share of `ghc --make`'s wall time, in ms (NaN without a build). */
  makePerCompile: number;
  /** The ratios the bars judge (NaN where a figure is missing). */
  workerRatio: number;
  ghcpwRatio: number;
  bazelRatio: number;
  /** The verdicts against the bars. */
  workerBar: Verdict;
  ghcpwBar: Verdict;
  bazelBar: Verdict;
}

/** The figures and verdicts of one row. */
function figures(r: ConfigResult): RowFigures {
  const cold = ok(r.cold);
  const ghcpw = ok(r.ghcpw);
  const bazel = ok(r.bazel);
  const make = ok(r.make);
  const makeWall = make?.wallMs ?? NaN;
  // The server counts every compile of the build (C sources and hs-boot files too) in the worker's mean.
  const compiles = ghcpw?.steps.size ?? NaN;
  const worker = workerRatio(r.workerMeanMs ?? NaN, makeWall, compiles);
  const ghcpwRatio = (ghcpw?.wallMs ?? NaN) / makeWall;
  const bazelRatio = (bazel?.wallMs ?? NaN) / makeWall;
  return {
    cold,
    ghcpw,
    bazel,
    make,
    coldMedian: cold ? medianModuleMs(cold, r.hsSteps) : NaN,
    ghcpwMedian: ghcpw ? medianModuleMs(ghcpw, r.hsSteps) : NaN,
    makePerCompile: makeWall / compiles,
    workerRatio: worker,
    ghcpwRatio,
    bazelRatio,
    workerBar: workerVerdict(worker, r.jobs),
    ghcpwBar: ghcpwVerdict(ghcpwRatio, r.jobs),
    bazelBar: bazelVerdict(bazelRatio, r.jobs),
  };
}

/**
 * The results table: wall times per method, medians per module, means per compile (cold, ghcpw, and the
 * part of ghcpw's that its worker spent), the ratio cold/worker of the means (what ghcpw would reach with a
 * client and server that cost nothing), the cold/ghcpw ratios (no bar: informative), each bar's ratio and
 * verdict, the hypervisor's share of the CPU during each build, and the check verdicts.
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
    "worker / --make per compile",
    `worker ≤${WORKER_BAR}x (-j1)`,
    "ghcpw/--make",
    `ghcpw ≤${GHCPW_BAR_ONE_JOB}x (-j1), ≤${GHCPW_BAR_TWO_JOBS.toFixed(1)}x (-j2)`,
    "bazel worker: total / median",
    "bazel/--make",
    `bazel ≤${BAZEL_BAR}x (-j1)`,
    "steal cold/ghcpw/bazel/make",
    "checks",
  ];
  const rows = results.map((r) => {
    const f = figures(r);
    const { cold: c, ghcpw: g, bazel: b, make: m } = f;
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
      // At -j2, --make's wall time per compile is no module's cost: no figure to misread.
      f.workerBar === "n/a"
        ? "n/a"
        : Number.isFinite(f.workerRatio)
        ? `${r.workerMeanMs!.toFixed(0)} / ${f.makePerCompile.toFixed(0)} ms = ${times(f.workerRatio)}`
        : "-",
      f.workerBar,
      times(f.ghcpwRatio),
      f.ghcpwBar,
      b
        ? `${seconds(b.wallMs)} / ${medianModuleMs(b, r.hsSteps).toFixed(0)} ms`
        : r.bazel
        ? "FAILED"
        : "not run",
      times(f.bazelRatio),
      f.bazelBar,
      [r.cold, r.ghcpw, r.bazel, r.make].map((x) => x?.steal ?? "-").join(" / "),
      r.mismatches.length === 0 ? "ok" : `${r.mismatches.length} MISMATCH`,
    ];
  });
  return formatTable(header, rows);
}

/**
 * One line for the bars: the client overhead's verdict (null: not measured), and for each build bar, in
 * how many of the rows it applies to it is met.
 */
export function barsSummary(results: readonly ConfigResult[], overhead: OverheadResult | null): string {
  const all = results.map(figures);
  const count = (key: "workerBar" | "ghcpwBar" | "bazelBar") => metCount(all.map((f) => f[key]));
  const client = overhead === null
    ? "not measured"
    : `${overheadVerdict(overhead.overheadMedianMs)} (${overhead.overheadMedianMs.toFixed(0)} ms)`;
  return `Bars (issue 15): client overhead ≤${OVERHEAD_BAR_MS} ms per compile (median): ${client}; ` +
    `the worker's own time per compile ≤${WORKER_BAR}x a compile's share of ghc --make -j1: ` +
    `${count("workerBar")} rows; ghcpw's whole build ≤${GHCPW_BAR_ONE_JOB}x ghc --make's at -j1, ` +
    `≤${GHCPW_BAR_TWO_JOBS.toFixed(1)}x at -j2: ${count("ghcpwBar")} rows; the Bazel worker's whole build ` +
    `≤${BAZEL_BAR}x ghc --make's at -j1: ${count("bazelBar")} rows.`;
}

/**
 * The client-overhead table: per compile, wall time, the worker's time and the overhead (with the bar's
 * verdict on its median), then the references: what any Deno client costs on this machine, and
 * `--numeric-version` through plain ghc and through ghcpw.
 */
export function overheadTable(o: OverheadResult): string {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const both = (median: number, mean: number) => `${ms(median)} / ${ms(mean)}`;
  return formatTable(["per compile", "median / mean", "bar"], [
    [
      `\`ghcpw ghc\` as a subprocess, wall time (${o.requests} requests)`,
      both(o.wallMedianMs, o.wallMeanMs),
      "",
    ],
    ["the worker's own time (the server's status)", both(o.workerMedianMs, o.workerMeanMs), ""],
    [
      "client overhead: each request's wall time minus its worker's time",
      both(o.overheadMedianMs, o.overheadMeanMs),
      `median ≤${OVERHEAD_BAR_MS} ms: ${overheadVerdict(o.overheadMedianMs)}`,
    ],
    [
      `floor of a Deno client: \`deno ${
        DENO_RUN_ARGS.join(" ")
      }\` of an empty script (${o.referenceRuns} runs): median`,
      ms(o.denoEmptyMs),
      "",
    ],
    [`\`deno --version\` (${o.referenceRuns} runs): median`, ms(o.denoVersionMs), ""],
    [`\`ghc --numeric-version\` (${o.versionRuns} runs): median`, ms(o.ghcVersionMs), ""],
    [`\`ghcpw ghc -- --numeric-version\` (${o.versionRuns} runs): median`, ms(o.ghcpwVersionMs), ""],
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
      r.gcMeanMs === null || !Number.isFinite(r.gcMeanMs) ? "-" : r.gcMeanMs.toFixed(1),
      parts(r.serverMs, SERVER_PATH_PARTS),
      (wall - r.workerMeanMs - onPath).toFixed(0),
    ]];
  });
  return formatTable(
    ["row", "wall", "worker", "worker's stages", "of which GC", "server's parts", "client and rest"],
    rows,
  );
}

/**
 * Modules each recompiled alone through ghcpw, stage by stage, beside the same module's phases inside
 * `ghc --make -j1` (its -ddump-timings: CPU time of the ghc process, so no assembler; on GHC 9.0 a
 * worker's "frontend" also holds desugaring and simplifying, which GHC 9.0's pipeline runs in one phase).
 * Where a row recompiled more than three (`--all-modules`), its first, middle and last, then the means
 * over all of them (--make's over those it has phases for).
 */
export function moduleStagesTable(results: readonly ConfigResult[]): string {
  const ms = (x: number | undefined) => x === undefined || x < 0.05 ? "-" : x.toFixed(1);
  const cells = (own: StageTimes, make: StageTimes | null) =>
    STAGE_ORDER.map((stage) =>
      make?.[stage] === undefined ? ms(own[stage]) : `${ms(own[stage])} / ${ms(make[stage])}`
    );
  const rows = results.flatMap((r) => {
    const row = `${r.project} ${flagsText(r.config)}`;
    const n = r.modules.length;
    const shown = firstMiddleLast(r.modules);
    const lines = shown.map((m) => [row, m.module, ...cells(m.ghcpw, m.make)]);
    if (n > 3) {
      const made = r.modules.flatMap((m) => m.make === null ? [] : [m.make]);
      lines.push([
        row,
        `all ${n} modules (means)`,
        ...cells(meanStages(r.modules.map((m) => m.ghcpw)), made.length > 0 ? meanStages(made) : null),
      ]);
    }
    return lines;
  });
  return formatTable(["row", "module", ...STAGE_ORDER], rows);
}

/** Each stage's mean over several modules' stage times (a stage a module lacks counts as 0 for it). */
export function meanStages(all: readonly StageTimes[]): StageTimes {
  const sums: StageTimes = {};
  for (const times of all) {
    for (const [stage, t] of Object.entries(times)) sums[stage] = (sums[stage] ?? 0) + t;
  }
  return Object.fromEntries(Object.entries(sums).map(([stage, t]) => [stage, t / all.length]));
}
