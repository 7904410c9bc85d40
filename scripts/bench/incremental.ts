/**
 * The benchmark of incremental `--make` builds (`deno task bench --scenario incremental`): one `--make`
 * target, the synthetic project and a real library, taken through an edit sequence (from scratch, no
 * change, leaf body edit, mid-graph body edit, export added, root export added). Each step is built three
 * ways, each in a tree of its own: plain `ghc --make` into emptied output directories (what Bazel pays
 * today), plain `ghc --make` with its outputs kept (GHC's own incremental build, the practical limit),
 * and `ghcpw ghc -- --make` into emptied directories against one server with a cache of its own. Prints
 * Markdown tables with the ratios and the bars of README's "Incremental builds", checking on the way that
 * ghcpw printed the diagnostics (as a set) and wrote the interfaces of the emptied-directory build.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "../../lib/version.ts";
import { compiledNames, diagnosticSet } from "../output_compare.ts";
import type { BuildStep } from "../real_library/module_order.ts";
import {
  addExport,
  addInternalBinding,
  chooseEditTargets,
  type EditTargets,
  hasExportList,
} from "../source_edits.ts";
import { compareInterfaces } from "./builds.ts";
import { serverStatus } from "./in_process.ts";
import { attachDashValues, loadAverage, progress, seconds, timeCommand, type Timed } from "./process.ts";
import {
  type BenchProject,
  type BuildPlan,
  configFor,
  makeSources,
  realLibraryProject,
  syntheticProject,
} from "./projects.ts";
import { formatTable, ratio } from "./report.ts";
import { ghcpwRunner, privateCacheHome, type RunningServer, startServer, stopServer } from "./server.ts";
import { listOption, readSharedOptions, SHARED_OPTIONS, type SharedOptions, wholeNumber } from "./options.ts";

/** A one-module body edit at -O0 must be at least this much faster than the emptied-directory build. */
export const COLD_BAR = 10;
/** ... and take at most this multiple of GHC's own incremental build. */
export const KEPT_BAR = 1.5;

/** The options of the incremental benchmark. */
export interface IncrementalOptions extends SharedOptions {
  /** Ordinary modules of the synthetic project. */
  modules: number;
  /** Optimisation levels (or any flag sets), each a row of tables. */
  levels: string[];
}

export const INCREMENTAL_BENCH_HELP =
  `bench.ts --scenario incremental: incremental --make builds against GHC's

Usage: deno task bench --scenario incremental [OPTIONS]

One 'ghc --make -no-link' target per project and level, taken through an edit
sequence; every step is built three ways, each in a tree of its own:
  cold   plain ghc --make into emptied output directories (what Bazel pays)
  kept   plain ghc --make with its outputs kept (GHC's own incremental build)
  ghcpw  'ghcpw ghc -- --make' into emptied output directories, against one
         'ghcpw serve -n 1' with an incremental cache of its own (empty at
         the start of each project and level)
The steps, each on top of the last: from scratch, no change, leaf body edit
(a binding it does not export added to a module no other imports), mid-graph
body edit (the same in a module with imports and dependents), export added
(to that mid-graph module), root export added (to the module without home
imports that most depend on). Reports wall times, the ratios cold/ghcpw and
ghcpw/kept, the modules each build compiled and ghcpw restored, and the bars:
a body edit at -O0 at least ${COLD_BAR}x faster than cold and within ${KEPT_BAR}x of kept.
Checks that ghcpw printed cold's diagnostics (as a set) and wrote its
interfaces (scripts/output_compare.ts).

Options:
  --project LIST   synthetic, aeson, or any Debian haskell-NAME, comma-
                   separated or repeated (default: synthetic,aeson)
  --modules N      ordinary modules of the synthetic project (default 60)
  --levels LIST    optimisation levels (flag sets), comma-separated
                   (default: -O0,-O1)
  --seed N         the synthetic project's seed (default 1)
  --ghc PATH       the ghc to benchmark (default: $GHCPW_GHC, else ghc)
  --ghcpw-main PATH
                   the ghcpw main.ts to benchmark (default: this checkout's)
  --keep           keep the temporary directory (its path is printed)
  -v, --verbose    show the server's log on stderr
  -h, --help       show this help

The default run builds each project about 18 times per level: roughly half an
hour on a 2-core machine, most of it aeson at -O1.
Exit code: 0 if every build succeeded and every check passed (whether or not
the bars are met), 1 otherwise, 2 for a bad command line or a failed set-up.
`;

/** Parses the command line after `--scenario incremental` (null for --help); throws naming a bad option. */
export function parseIncrementalArgs(args: string[]): IncrementalOptions | null {
  const { values } = parseArgs({
    args: attachDashValues(args, ["--levels"]),
    options: { ...SHARED_OPTIONS, modules: { type: "string" }, levels: { type: "string" } },
    strict: true,
  });
  if (values.help) return null;
  const levels = listOption([values.levels ?? "-O0,-O1"]);
  if (levels.length === 0) throw new Error("--levels needs at least one level");
  return {
    ...readSharedOptions(values, ["synthetic,aeson"]),
    // Enough modules for a graph with a leaf, a middle and a root well apart.
    modules: wholeNumber("--modules", values.modules ?? "60", 4),
    levels: [...new Set(levels)],
  };
}

/** One step of the edit sequence: applied to every tree (on top of the steps before), then built. */
interface EditStep {
  name: string;
  /** Whether it is a one-module body edit (the bars apply to it). */
  bodyEdit: boolean;
  /** The source to change (relative to the tree) and how; null for a step that changes nothing. */
  file: string | null;
  change: (source: string) => string;
}

/** The edit sequence on a project's chosen modules. */
export function editSteps(t: EditTargets): EditStep[] {
  const same = (s: string) => s;
  return [
    { name: "from scratch", bodyEdit: false, file: null, change: same },
    { name: "no change", bodyEdit: false, file: null, change: same },
    { name: "leaf body edit", bodyEdit: true, file: t.leaf.file, change: (s) => addInternalBinding(s, 1) },
    {
      name: "mid-graph body edit",
      bodyEdit: true,
      file: t.middle.file,
      change: (s) => addInternalBinding(s, 2),
    },
    {
      name: "export added",
      bodyEdit: false,
      file: t.middle.file,
      change: (s) => addExport(s, t.middle.module!, "ghcpwAddedMiddle"),
    },
    {
      name: "root export added",
      bodyEdit: false,
      file: t.root.file,
      change: (s) => addExport(s, t.root.module!, "ghcpwAddedRoot"),
    },
  ];
}

/** One built step: the three builds' times and compiled modules, and what ghcpw restored. */
export interface StepResult {
  name: string;
  bodyEdit: boolean;
  cold: Timed;
  kept: Timed;
  ghcpw: Timed;
  restored: number;
}

/** One project at one level: its steps, the modules edited, and every problem the checks found. */
export interface SequenceResult {
  project: string;
  level: string;
  modules: number;
  targets: { leaf: string; middle: string; root: string } | null;
  steps: StepResult[];
  problems: string[];
}

/** The home modules of a plan, in dependency order, as the edit choice reads them. */
function graphOf(plan: BuildPlan): BuildStep[] {
  return plan.steps.filter((s) => s.kind === "hs" && !/-boot$/.test(s.file))
    .map((s) => ({ module: s.name, file: s.file, imports: s.deps }));
}

/** Empties a tree's output directory, as Bazel does before every action. */
async function emptyOutputs(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
}

/** Takes one project at one level through the edit sequence. */
export async function runSequence(
  options: IncrementalOptions,
  project: BenchProject,
  level: string,
  tmp: string,
  started: (server: RunningServer) => void,
): Promise<SequenceResult> {
  const plan = project.plan(configFor(level));
  const graph = graphOf(plan);
  const base = `${tmp}/${project.name}/${level.replace(/[^\w-]+/g, "_")}`;
  const trees = { cold: `${base}/cold`, kept: `${base}/kept`, ghcpw: `${base}/ghcpw` };
  for (const dir of Object.values(trees)) await plan.populate(dir);
  const result: SequenceResult = {
    project: project.name,
    level,
    modules: graph.length,
    targets: null,
    steps: [],
    problems: [],
  };
  let targets: EditTargets;
  try {
    targets = chooseEditTargets(
      graph,
      (s) => hasExportList(Deno.readTextFileSync(`${trees.cold}/${s.file}`), s.module!),
    );
  } catch (e) {
    result.problems.push(e instanceof Error ? e.message : String(e));
    return result;
  }
  result.targets = { leaf: targets.leaf.module!, middle: targets.middle.module!, root: targets.root.module! };
  progress(
    `${project.name} ${level}: ${graph.length} modules; leaf ${result.targets.leaf}, middle ` +
      `${result.targets.middle}, root ${result.targets.root}`,
  );
  const args = ["--make", "-no-link", ...plan.makeFlags, ...makeSources(plan.steps)];
  const cache = await privateCacheHome(`${base}/cache`);
  const server = await startServer(
    options.ghcpwMain,
    options.ghc,
    `${base}/ghcpw.sock`,
    1,
    options.verbose,
    [],
    undefined,
    { XDG_CACHE_HOME: cache },
  );
  started(server);
  const ghcpw = ghcpwRunner(options.ghcpwMain, options.ghc, server.socket);
  try {
    for (const step of editSteps(targets)) {
      if (step.file !== null) {
        for (const tree of Object.values(trees)) {
          const path = `${tree}/${step.file}`;
          await Deno.writeTextFile(path, step.change(await Deno.readTextFile(path)));
        }
      }
      await emptyOutputs(`${trees.cold}/${plan.outDir}`);
      const cold = await timeCommand(options.ghc, args, trees.cold);
      const kept = await timeCommand(options.ghc, args, trees.kept);
      await emptyOutputs(`${trees.ghcpw}/${plan.outDir}`);
      const before = await restoredSoFar(server.socket);
      const warm = await ghcpw(args, trees.ghcpw);
      const restored = (await restoredSoFar(server.socket)) - before;
      result.steps.push({ name: step.name, bodyEdit: step.bodyEdit, cold, kept, ghcpw: warm, restored });
      progress(
        `  ${step.name}: cold ${seconds(cold.ms)}, kept ${seconds(kept.ms)}, ghcpw ${seconds(warm.ms)} ` +
          `(${restored} restored, ${compiledNames(warm.stdout).length} compiled); load ${loadAverage()}`,
      );
      result.problems.push(...await checkStep(options.ghc, step.name, plan, trees, { cold, kept, warm }));
    }
  } finally {
    await stopServer(server);
  }
  return result;
}

/** The modules ghcpw's server has restored so far. */
async function restoredSoFar(socket: string): Promise<number> {
  const incremental = (await serverStatus(socket)).incremental as { modulesRestored: number } | null;
  if (incremental === null) throw new Error("the server has incremental builds off");
  return incremental.modulesRestored;
}

/** What is wrong with one step: a failed build, other diagnostics or interfaces than the cold build's. */
async function checkStep(
  ghc: string,
  name: string,
  plan: BuildPlan,
  trees: { cold: string; kept: string; ghcpw: string },
  runs: { cold: Timed; kept: Timed; warm: Timed },
): Promise<string[]> {
  const problems: string[] = [];
  for (const [what, r] of Object.entries(runs)) {
    if (r.code !== 0) {
      problems.push(`${name}: the ${what} build exited with ${r.code}:\n${r.stdout}${r.stderr}`);
    }
  }
  if (problems.length > 0) return problems;
  const expected = diagnosticSet(runs.cold.stdout + runs.cold.stderr);
  const actual = diagnosticSet(runs.warm.stdout + runs.warm.stderr);
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    problems.push(`${name}: ghcpw printed other diagnostics than cold ghc`);
  }
  const compared = await compareInterfaces(
    ghc,
    `${trees.cold}/${plan.outDir}`,
    `${trees.ghcpw}/${plan.outDir}`,
  );
  for (const file of compared.missing) problems.push(`${name}: ghcpw did not write ${file}`);
  for (const file of compared.extra) problems.push(`${name}: ghcpw wrote ${file}, cold ghc did not`);
  for (const d of compared.differing) problems.push(`${name}: ${d}`);
  return problems;
}

/** Whether a step meets the bars; null where they do not apply (not a body edit, or not -O0). */
export function meetsBars(level: string, step: StepResult): boolean | null {
  if (!step.bodyEdit || !level.split(/\s+/).includes("-O0")) return null;
  return step.cold.ms / step.ghcpw.ms >= COLD_BAR && step.ghcpw.ms / step.kept.ms <= KEPT_BAR;
}

/** The Markdown table of one sequence. */
export function sequenceTable(r: SequenceResult): string {
  const compiled = (t: Timed) => String(compiledNames(t.stdout).length);
  return formatTable(
    [
      "step",
      "cold",
      "kept",
      "ghcpw",
      "cold/ghcpw",
      "ghcpw/kept",
      "compiled (cold/kept/ghcpw)",
      "restored",
      "bars",
    ],
    r.steps.map((s) => {
      const bars = meetsBars(r.level, s);
      return [
        s.name,
        seconds(s.cold.ms),
        seconds(s.kept.ms),
        seconds(s.ghcpw.ms),
        ratio(s.cold.ms, s.ghcpw.ms),
        ratio(s.ghcpw.ms, s.kept.ms),
        `${compiled(s.cold)}/${compiled(s.kept)}/${compiled(s.ghcpw)}`,
        String(s.restored),
        bars === null ? "-" : bars ? "met" : "NOT MET",
      ];
    }),
  );
}

/** Prepares the projects named on the command line (fetching a real library if needed). */
async function prepareProjects(options: IncrementalOptions): Promise<BenchProject[]> {
  const projects: BenchProject[] = [];
  for (const name of options.projects) {
    if (name === "synthetic") projects.push(syntheticProject(options.modules, options.seed));
    else {
      progress(`preparing ${name} (scripts/real_library.ts)`);
      projects.push(await realLibraryProject(name, options.ghc));
    }
  }
  return projects;
}

/** Runs the incremental benchmark and prints its report; resolves to the exit code. */
export async function runIncrementalBench(
  options: IncrementalOptions,
  live: { servers: Set<RunningServer>; tmp: string | null; keep: boolean },
): Promise<number> {
  const version = await timeCommand(options.ghc, ["--numeric-version"], "/");
  if (version.code !== 0) throw new Error(`${options.ghc} --numeric-version failed: ${version.stderr}`);
  const loadBefore = loadAverage();
  const startedAt = new Date();
  const projects = await prepareProjects(options);
  const tmp = await Deno.makeTempDir({ prefix: "ghcpw-bench-incremental-" });
  live.tmp = tmp;
  live.keep = options.keep;
  const results: SequenceResult[] = [];
  for (const project of projects) {
    for (const level of options.levels) {
      results.push(await runSequence(options, project, level, tmp, (s) => live.servers.add(s)));
      live.servers.clear();
    }
  }
  const when = startedAt.toISOString().slice(0, 16).replace("T", " ");
  const lines = [
    "## ghcpw benchmark: incremental --make builds",
    "",
    `GHC ${version.stdout.trim()} (${options.ghc}), ghcpw ${VERSION}, ${navigator.hardwareConcurrency} CPU ` +
    `cores, ${when} UTC. Load average (1/5/15 min): ${loadBefore} at the start, ${loadAverage()} at the end.`,
    "",
    "cold = `ghc --make -no-link` into emptied output directories; kept = the same with its outputs kept " +
    "(GHC's own incremental build); ghcpw = `ghcpw ghc -- --make` into emptied directories. Each step adds " +
    "its edit to the last. cold/ghcpw > 1: ghcpw is faster than cold; ghcpw/kept > 1: ghcpw is slower " +
    `than GHC's own incremental build. Bars (body edits at -O0): cold/ghcpw >= ${COLD_BAR}, ` +
    `ghcpw/kept <= ${KEPT_BAR}.`,
  ];
  for (const r of results) {
    lines.push("", `### ${r.project} ${r.level} (${r.modules} modules)`, "");
    if (r.targets !== null) {
      lines.push(`Edited: leaf ${r.targets.leaf}, middle ${r.targets.middle}, root ${r.targets.root}.`, "");
    }
    if (r.steps.length > 0) lines.push(sequenceTable(r));
  }
  lines.push("", "Checks:");
  const problems = results.flatMap((r) => r.problems.map((p) => `- [${r.project} ${r.level}] ${p}`));
  lines.push(
    ...problems,
    problems.length === 0 ? "All checks passed." : `!!! ${problems.length} PROBLEM(S) !!!`,
  );
  if (options.keep) lines.push("", `Kept ${tmp}`);
  console.log(lines.join("\n"));
  return problems.length === 0 ? 0 : 1;
}
