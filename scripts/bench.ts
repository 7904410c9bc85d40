/**
 * The end-to-end benchmark of ghcpw. For each project (the synthetic one of scripts/gen_project.ts, and
 * Debian's aeson via scripts/real_library.ts), flag set and job count it builds the project three ways,
 * each in a fresh tree: one cold `ghc -c` process per module in dependency order, the same commands
 * through `ghcpw ghc --` against one warm server, and `ghc --make -jJOBS`. Then it measures the client's
 * overhead per compile and a worker's resident memory over many requests, and prints Markdown tables
 * with the ratios and the acceptance bars, checking on the way that ghcpw wrote the same interface files
 * and diagnostics as cold ghc.
 *
 * The pieces live in scripts/bench/. Run `deno task bench --help` for the command line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "../lib/version.ts";
import { benchRow, type ConfigResult } from "./bench/builds.ts";
import { measureWorkerMemory, type MemoryResult } from "./bench/memory.ts";
import { measureOverhead, type OverheadResult, type SmallProject, smallProject } from "./bench/overhead.ts";
import {
  attachDashValues,
  cpuTimes,
  loadAverage,
  progress,
  seconds,
  stealPercent,
  timeCommand,
} from "./bench/process.ts";
import {
  type BenchConfig,
  type BenchProject,
  configFor,
  DEFAULT_FLAGS,
  flagsText,
  realLibraryProject,
  syntheticProject,
} from "./bench/projects.ts";
import {
  BAZEL_BAR,
  GHCPW_BAR_ONE_JOB,
  GHCPW_BAR_TWO_JOBS,
  OVERHEAD_BAR_MS,
  WORKER_BAR,
} from "./bench/bars.ts";
import {
  barsSummary,
  breakdownTable,
  memoryTable,
  moduleStagesTable,
  overheadTable,
  resultsTable,
} from "./bench/report.ts";
import { type RunningServer, startServer, stopServer } from "./bench/server.ts";
import { INCREMENTAL_BENCH_HELP, parseIncrementalArgs, runIncrementalBench } from "./bench/incremental.ts";
import { DEFAULT_SHARE, formatShare, parseShare } from "../lib/share.ts";
import {
  listOption,
  readSharedOptions,
  SHARED_OPTIONS,
  type SharedOptions,
  wholeNumber,
} from "./bench/options.ts";

/** The benchmark's options, from the command line. */
export interface BenchOptions extends SharedOptions {
  /** Sizes of the synthetic project (ordinary modules), one project each. */
  modules: number[];
  /** Most home imports per module of the synthetic projects (scripts/gen_project.ts --imports). */
  imports: number;
  limit: number | null;
  /** Recompile every module alone through ghcpw after a one-job row's builds, not three. */
  allModules: boolean;
  jobs: number[];
  configs: BenchConfig[];
  /** `--share` settings, one server (and a row per project, flag set and job count) each. */
  shares: string[];
  overheadRequests: number;
  /** Checkpoints of the worker-memory measurement; empty to skip it. */
  rssRequests: number[];
}

export const DEFAULT_PROJECTS = ["synthetic", "aeson"];
export const DEFAULT_RSS_REQUESTS = [50, 2000];

export const BENCH_HELP = `bench.ts: benchmark ghcpw against cold ghc -c and ghc --make

Usage: deno task bench [OPTIONS]
       deno run -A scripts/bench.ts [OPTIONS]

For every project, flag set and job count (a row), builds the project four
ways, each in a fresh tree (so no recompilation check skips anything):
  cold   one 'ghc -c FLAGS' process per module, in dependency order, up to
         JOBS at a time as the module graph allows
  ghcpw  the same commands, same scheduling, each through a 'ghcpw ghc --'
         subprocess (GHCPW_STRICT=1), against one 'ghcpw serve -n MAXJOBS'
         started once for the whole run; before each row, one uncounted
         warm-up compile per worker (the server's start-up is reported apart)
  bazel  the same commands, same scheduling, as work requests to a 'ghcpw
         bazel --persistent_worker -n JOBS' started in the tree for the row,
         fed as Bazel feeds it (proto; singleplex for one job, multiplex for
         more): the per-module path without a client process; one uncounted
         warm-up compile per GHC process first
  make   'ghc --make -jJOBS -no-link FLAGS' of the same modules
and reports total wall times, the median time per module, the mean time per
compile of cold ghc, of ghcpw and of its worker (the server's status: the
compile's own work, which no kept state saves; cold/worker is the ratio ghcpw
would reach with a client that cost nothing), the ratios cold/ghcpw (total
and median; no bar), ghcpw/--make and bazel/--make, and the CPU share the
hypervisor took during each build (steal: on a shared virtual machine a high
figure means that build's timings are unreliable).

Each row says whether it meets issue 15's bars ("met", "not met"; "n/a" where
a bar does not apply to the row's -j, "-" where a build is missing):
  worker  the worker's own time per compile (its mean) within ${WORKER_BAR}x of a
          compile's cost inside ghc --make (its wall time over the number of
          compiles), at one job only: at two, --make's wall time per compile
          is no module's cost
  ghcpw   the whole build through 'ghcpw ghc' within ${GHCPW_BAR_ONE_JOB}x of ghc --make's
          at one job, at most ${GHCPW_BAR_TWO_JOBS.toFixed(1)}x at two (no bar at more)
  bazel   the whole build through the Bazel worker protocol within ${BAZEL_BAR}x of
          ghc --make's, at one job
and the client overhead below must be at most ${OVERHEAD_BAR_MS} ms per compile (median).
As checks, ghcpw must write the same interface files as cold ghc, judged as the
tests judge them (scripts/output_compare.ts), print the same diagnostics, have
every compile served by a worker (the server's status counts no fallback,
error or retry), and, for the synthetic project with code, link into a program
that prints the same.

Where the time goes: for each row, the ghcpw build's mean per compile of the
workers' stages (and of their garbage collection, within them) and the
server's parts ('ghcpw status'), and the rest of the wall time (the client
process); for one-job rows, three modules recompiled
alone through ghcpw, stage by stage, beside the same modules' phases in a
'ghc --make -j1 -ddump-timings' build of their own (with --all-modules, every
module, and the means over all of them: where a one-shot compile's time
differs from --make's, module by module).

Then:
  client overhead  small compiles timed as 'ghcpw ghc' subprocesses, one at a
                   time, each minus the time its worker spent on it (the
                   server's status, read untimed before and after each):
                   what the client and the server's routing cost per
                   compile, median and mean. As references, medians over
                   as many runs: 'deno run -A' of an empty script and
                   'deno --version' (what any Deno client costs on this
                   machine), and 'ghc --numeric-version' against 'ghcpw ghc
                   -- --numeric-version'.
  worker memory    a server with one worker driven with small compiles
                   (in-process), the worker's resident memory read from the
                   server's status after each checkpoint's number of requests
                   (its --max-requests set past the last checkpoint).

Projects:
  synthetic  scripts/gen_project.ts: --modules ordinary modules and Main; with
             -dynamic-too (and code) also 3 Template Haskell modules, which a
             dynamically linked GHC needs -dynamic-too for in one-shot mode
  aeson      Debian's haskell-aeson, fetched once with apt-get source (needs
             root and the Debian mirror the first time; cached, see
             scripts/real_library.ts), with the flags of its .cabal file and
             its modules in ghc -M's dependency order; C sources (if its
             flags select any) compiled as tests/system/real_library_test.ts does.
             Any other NAME is tried as Debian's haskell-NAME the same way.

Options:
  --project LIST     projects, comma-separated or repeated
                     (default: ${DEFAULT_PROJECTS.join(",")})
  --modules LIST     sizes of the synthetic project: ordinary modules,
                     comma-separated, one project each (default 30; the
                     issue's scaling rows: 30,300)
  --imports N        most home modules each synthetic module imports
                     (default 3; e.g. 12 for a wider import graph)
  --limit N          build only the first N compiles of each project in
                     dependency order (for smoke runs, not a benchmark; the
                     synthetic programs are then not linked)
  --all-modules      recompile every module alone through ghcpw after a
                     one-job row, not three (a compile and two status reads
                     more per module), and report the stages' means over all
                     of them beside --make's
  --flags FLAGS      one flag set, e.g. --flags "-O0 -dynamic-too"; repeat for
                     several (default, four sets:
                     ${DEFAULT_FLAGS.map((f) => `"${f}"`).join("\n                     ")})
  --jobs LIST        job counts, comma-separated or repeated (default 1,2)
  --share SETTING    what the server's workers keep (as 'ghcpw serve --share');
                     repeat for a row per setting, each on a server of its own,
                     e.g. --share all --share databases --share none (default:
                     the default setting); the client overhead is measured on
                     the first
  --ghc PATH         the ghc to benchmark (default: $GHCPW_GHC, else ghc)
  --ghcpw-main PATH  the ghcpw main.ts to benchmark (default: this checkout's)
  --seed N           the synthetic project's seed (default 1)
  --overhead-requests N
                     requests for the client overhead (default 20; 0 skips
                     it)
  --rss-requests LIST
                     checkpoints of the worker-memory measurement, comma-
                     separated (default ${DEFAULT_RSS_REQUESTS.join(",")})
  --no-rss           skip the worker-memory measurement
  --keep             keep the temporary directory (its path is printed)
  -v, --verbose      show every compile and the server's log on stderr
  -h, --help         show this help
  --scenario incremental
                     instead, the benchmark of incremental --make builds
                     (options: --scenario incremental --help)

Progress goes to stderr; the report (Markdown) to stdout. The full default
run takes roughly 40 minutes on a 2-core machine (about half of it aeson's
rows, a quarter the 2,000 requests of the memory measurement).
Exit code: 0 if every build succeeded and every check passed (whether or not
the bars are met), 1 otherwise, 2 for a bad command line or a failed set-up.
`;

/** Parses the command line (null for --help); throws with a message naming the bad option. */
export function parseBenchArgs(args: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: attachDashValues(args, ["--flags"]),
    options: {
      ...SHARED_OPTIONS,
      modules: { type: "string", multiple: true },
      imports: { type: "string" },
      limit: { type: "string" },
      "all-modules": { type: "boolean" },
      jobs: { type: "string", multiple: true },
      flags: { type: "string", multiple: true },
      share: { type: "string", multiple: true },
      "overhead-requests": { type: "string" },
      "rss-requests": { type: "string" },
      "no-rss": { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return null;
  const jobs = listOption(values.jobs ?? ["1,2"]).map((j) => wholeNumber("--jobs", j, 1));
  const rss = values["no-rss"]
    ? []
    : listOption([values["rss-requests"] ?? DEFAULT_RSS_REQUESTS.join(",")]).map((n) =>
      wholeNumber("--rss-requests", n, 1)
    );
  return {
    ...readSharedOptions(values, DEFAULT_PROJECTS),
    modules: [...new Set(listOption(values.modules ?? ["30"]).map((n) => wholeNumber("--modules", n, 1)))],
    imports: wholeNumber("--imports", values.imports ?? "3", 1),
    limit: values.limit === undefined ? null : wholeNumber("--limit", values.limit, 1),
    allModules: values["all-modules"] ?? false,
    jobs: [...new Set(jobs)],
    configs: (values.flags ?? DEFAULT_FLAGS).map(configFor),
    shares: [
      ...new Set((values.share ?? [formatShare(DEFAULT_SHARE)]).map((s) => formatShare(parseShare(s)))),
    ],
    overheadRequests: wholeNumber("--overhead-requests", values["overhead-requests"] ?? "20", 0),
    rssRequests: rss,
  };
}

/** The scenarios other than the default one, by `--scenario NAME`. */
const SCENARIOS = ["incremental"];

/**
 * Takes `--scenario NAME` (or `--scenario=NAME`) out of the arguments: null for the default benchmark.
 * Throws for an unknown name.
 */
export function splitScenario(args: readonly string[]): { scenario: string | null; rest: string[] } {
  const rest: string[] = [];
  let scenario: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--scenario" || arg.startsWith("--scenario=")) {
      scenario = arg === "--scenario" ? args[++i] ?? "" : arg.slice("--scenario=".length);
      if (!SCENARIOS.includes(scenario)) {
        throw new Error(`--scenario: "${scenario}" is not one of ${SCENARIOS.join(", ")}`);
      }
    } else rest.push(arg);
  }
  return { scenario, rest };
}

/** Things to clean up if the benchmark is interrupted. */
const live = { servers: new Set<RunningServer>(), tmp: null as string | null, keep: false };

/** Stops every server still running and removes the temporary directory (unless --keep). */
async function cleanUp(): Promise<void> {
  await Promise.all([...live.servers].map(stopServer));
  live.servers.clear();
  if (live.tmp !== null && !live.keep) await Deno.remove(live.tmp, { recursive: true }).catch(() => {});
}

/** Prepares the projects named on the command line (fetching aeson if needed). */
async function prepareProjects(options: BenchOptions): Promise<BenchProject[]> {
  const projects: BenchProject[] = [];
  for (const name of options.projects) {
    if (name === "synthetic") {
      for (const n of options.modules) projects.push(syntheticProject(n, options.seed, options.imports));
    } else {
      progress(`preparing ${name} (scripts/real_library.ts)`);
      projects.push(await realLibraryProject(name, options.ghc));
    }
  }
  return projects;
}

/** Runs the whole benchmark and prints the report; resolves to the exit code. */
export async function runBench(options: BenchOptions): Promise<number> {
  const version = await timeCommand(options.ghc, ["--numeric-version"], "/");
  if (version.code !== 0) throw new Error(`${options.ghc} --numeric-version failed: ${version.stderr}`);
  const ghcVersion = version.stdout.trim();
  const loadBefore = loadAverage();
  const cpuBefore = cpuTimes();
  const startedAt = new Date();
  const projects = await prepareProjects(options);
  const tmp = await Deno.makeTempDir({ prefix: "ghcpw-bench-" });
  live.tmp = tmp;
  live.keep = options.keep;
  const rows = projects.length * options.configs.length * options.jobs.length * options.shares.length;
  progress(`ghcpw bench: GHC ${ghcVersion} (${options.ghc}), ${rows} rows, in ${tmp}; load ${loadBefore}`);

  const serverJobs = Math.max(...options.jobs);
  const startMs: number[] = [];

  // The overhead and memory measurements share one small project, written and compiled on first use.
  let smallOnce: Promise<SmallProject> | null = null;
  const small = () => smallOnce ??= smallProject(`${tmp}/small`, options.ghc);
  const results: ConfigResult[] = [];
  let overhead: OverheadResult | null = null;
  let overheadError: string | null = null;
  let memory: MemoryResult | null = null;
  let memoryError: string | null = null;
  for (const [i, share] of options.shares.entries()) {
    progress(`starting ghcpw serve -n ${serverJobs} --share ${share}`);
    const server = await startServer(
      options.ghcpwMain,
      options.ghc,
      `${tmp}/ghcpw-${i}.sock`,
      serverJobs,
      options.verbose,
      [],
      share,
    );
    live.servers.add(server);
    startMs.push(server.startMs);
    progress(`  ready in ${seconds(server.startMs)}`);
    try {
      for (const project of projects) {
        for (const config of options.configs) {
          for (const jobs of options.jobs) {
            const ctx = {
              tmp,
              ghc: options.ghc,
              ghcpwMain: options.ghcpwMain,
              limit: options.limit,
              allModules: options.allModules,
              verbose: options.verbose,
              server,
              position: `${results.length + 1}/${rows}`,
            };
            results.push(await benchRow(ctx, project, config, jobs));
          }
        }
      }
      if (i === 0 && options.overheadRequests > 0) {
        try {
          overhead = await measureOverhead({
            project: await small(),
            ghc: options.ghc,
            ghcpwMain: options.ghcpwMain,
            socket: server.socket,
            share,
            requests: options.overheadRequests,
            versionRuns: 9,
          });
        } catch (e) {
          overheadError = e instanceof Error ? e.message : String(e);
          progress(`  could not measure the client overhead: ${overheadError}`);
        }
      }
    } finally {
      await stopServer(server);
      live.servers.delete(server);
    }
  }
  if (options.rssRequests.length > 0) {
    try {
      memory = await measureWorkerMemory({
        socket: `${tmp}/memory.sock`,
        project: await small(),
        ghc: options.ghc,
        ghcpwMain: options.ghcpwMain,
        checkpoints: options.rssRequests,
        verbose: options.verbose,
        started: (s) => live.servers.add(s),
      });
    } catch (e) {
      memoryError = e instanceof Error ? e.message : String(e);
      progress(`  could not measure the worker's memory: ${memoryError}`);
    }
  }

  const cores = navigator.hardwareConcurrency;
  const warmups = results.flatMap((r) => r.warmupMs === null ? [] : [r.warmupMs]);
  const when = startedAt.toISOString().slice(0, 16).replace("T", " ");
  const firstWarmup = warmups.length ? seconds(warmups[0]) : "-";
  console.log(
    [
      "## ghcpw benchmark",
      "",
      `GHC ${ghcVersion} (${options.ghc}), ghcpw ${VERSION} (${options.ghcpwMain}), ${cores} CPU cores, ` +
      `${when} UTC. Load average (1/5/15 min): ${loadBefore} at the start, ${loadAverage()} at the end. ` +
      `CPU time taken by the hypervisor (steal) during the run: ${stealPercent(cpuBefore, cpuTimes())}.`,
      "",
      "Projects:",
      ...projects.map((p) => `- ${p.description}`),
      ...(options.limit === null ? [] : [
        "",
        `Only the first ${options.limit} compiles of each project (--limit): a smoke run, not a benchmark.`,
      ]),
      "",
      "Each row builds the project three ways in fresh trees: cold = one `ghc -c FLAGS` per module in " +
      "dependency order, up to -j at a time as the module graph allows; ghcpw = the same commands, same " +
      "scheduling, each through a `ghcpw ghc --` subprocess, against one " +
      `\`ghcpw serve -n ${serverJobs} --share SETTING\` per setting for the whole run (its start-up, ${
        startMs.map(seconds).join(", ")
      }, is not ` +
      `counted; before each row one uncounted warm-up compile per worker, ${firstWarmup} the first time); ` +
      "--make = `ghc --make -jJ -no-link FLAGS` of the same modules. Totals are wall times; medians are per " +
      'module; the means are per compile, and "its worker" is the mean time a GHC worker spent on one (the ' +
      "server's status): the compile's own work, so cold/worker is what ghcpw would reach if its client and " +
      "server cost nothing. cold/ghcpw > 1 means ghcpw is faster (no bar); " +
      "ghcpw/--make > 1 means it is slower. The bars (issue 15): the worker's own time per compile within " +
      `${WORKER_BAR}x of a compile's share of \`ghc --make\`'s wall time, at -j1 only (at -j2 that share is ` +
      `no module's cost); the whole ghcpw build within ${GHCPW_BAR_ONE_JOB}x of \`ghc --make\`'s at -j1, ` +
      `${
        GHCPW_BAR_TWO_JOBS.toFixed(1)
      }x at -j2; the Bazel worker's within ${BAZEL_BAR}x at -j1 ("n/a": the ` +
      "bar does not apply to the row). Steal is the CPU share the hypervisor took during each build.",
      "",
    ].join("\n"),
  );
  console.log(resultsTable(results));
  console.log(`\n${barsSummary(results, overhead)}`);
  console.log(
    "\nWhere a ghcpw compile's time goes (means per compile of each row's ghcpw build, ms): the workers' " +
      "own stages (lib/plugin/Ghcpw/Stages.hs) and how much of them went to their garbage collection, the " +
      "server's parts the answer waits for, and the rest of " +
      "the wall time (the client process: Deno's start, loading ghcpw, connecting).\n",
  );
  console.log(breakdownTable(results));
  if (results.some((r) => r.modules.length > 0)) {
    console.log(
      "\nSingle modules (one-job rows): each recompiled alone through ghcpw (its worker's stages, ms), " +
        "beside the same module inside `ghc --make -j1 -ddump-timings` (after the slash: GHC's CPU time " +
        "for the phases of that stage; no assembler, which runs as a child process). On GHC 9.0 the " +
        "worker's frontend also holds desugaring and simplifying (one pipeline phase there).\n",
    );
    console.log(moduleStagesTable(results));
  }
  if (overhead !== null) {
    console.log(
      `\nClient overhead per compile (${overhead.request}; the server's status read, untimed, before and ` +
        "after each request): each request's wall time minus its worker's time. The Deno rows are what any " +
        "Deno client costs on this machine before its own code runs.\n",
    );
    console.log(overheadTable(overhead));
  } else if (overheadError !== null) console.log(`\nClient overhead: not measured: ${overheadError}`);
  if (memory !== null) {
    console.log(`\nWorker memory (one worker; ${memory.request}):\n`);
    console.log(memoryTable(memory));
  } else if (memoryError !== null) console.log(`\nWorker memory: not measured: ${memoryError}`);

  console.log("\nChecks:");
  for (const r of results) {
    const name = `[${r.project} ${flagsText(r.config)}, -j${r.jobs}, --share ${r.share}]`;
    for (const note of r.notes) console.log(`- ${name} ${note}`);
    for (const m of r.mismatches) console.log(`- ${name} MISMATCH: ${m}`);
  }
  for (const p of memory?.problems ?? []) console.log(`- [worker memory] server log: ${p}`);
  const mismatches = results.reduce((n, r) => n + r.mismatches.length, 0) + (memory?.problems.length ?? 0) +
    (overheadError === null ? 0 : 1) + (memoryError === null ? 0 : 1);
  console.log(mismatches === 0 ? "\nAll checks passed." : `\n!!! ${mismatches} PROBLEM(S): see above !!!`);
  if (options.keep) console.log(`\nKept ${tmp}`);
  return mismatches === 0 ? 0 : 1;
}

if (import.meta.main) {
  let code: number;
  const interrupted = () => {
    progress("\nInterrupted: stopping servers and cleaning up");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", interrupted);
  Deno.addSignalListener("SIGTERM", interrupted);
  try {
    const { scenario, rest } = splitScenario(Deno.args);
    if (scenario === "incremental") {
      const options = parseIncrementalArgs(rest);
      if (options === null) console.log(INCREMENTAL_BENCH_HELP);
      code = options === null ? 0 : await runIncrementalBench(options, live);
    } else {
      const options = parseBenchArgs(rest);
      if (options === null) console.log(BENCH_HELP);
      code = options === null ? 0 : await runBench(options);
    }
  } catch (e) {
    console.error(`bench.ts: ${e instanceof Error ? e.message : e}`);
    code = 2;
  } finally {
    await cleanUp();
  }
  Deno.exit(code);
}
