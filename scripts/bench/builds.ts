/**
 * One row of the benchmark: a project built with one flag set at one job count, three ways, each in a
 * fresh tree — cold `ghc -c` per module, the same commands through `ghcpw ghc --`, and `ghc --make -jN` —
 * then the sanity checks (same interface files as cold, same diagnostics, the programs print the same).
 *
 * @module
 */

import {
  type BenchConfig,
  type BenchProject,
  type BuildPlan,
  flagsText,
  limitPlan,
  makeSources,
  type PlanStep,
} from "./projects.ts";
import { coldRunner, ghcpwRunner, type GhcRunner, type RunningServer } from "./server.ts";
import { meanGrowth, serverTotals, troubleBetween } from "./in_process.ts";
import { parseMakeTimings, type StageTimes } from "./make_phases.ts";
import { startBazelWorker } from "./bazel.ts";
import {
  cpuTimes,
  mean,
  median,
  progress,
  runDag,
  seconds,
  stealPercent,
  timeCommand,
  type Timed,
} from "./process.ts";
import { listFiles, outputMismatch, sameBytes } from "../output_compare.ts";

/** One build: its wall time, each compile's result, and the first failure if any. */
export interface BuildResult {
  wallMs: number;
  steps: Map<string, Timed>;
  failure: string | null;
  /** The CPU share the hypervisor took while it ran (see stealPercent): high means noisy timings. */
  steal: string;
}

/** The measurements and findings of one project and flag set at one job count. */
export interface ConfigResult {
  project: string;
  config: BenchConfig;
  /** The server's `--share` setting. */
  share: string;
  /** The plan's note, e.g. "+TH". */
  note: string;
  jobs: number;
  /** The steps compiling Haskell modules (C sources not counted). */
  hsSteps: string[];
  cold: BuildResult;
  ghcpw: BuildResult | null;
  /** The same compiles sent to a `ghcpw bazel --persistent_worker` as Bazel sends them (no client process). */
  bazel: BuildResult | null;
  make: BuildResult | null;
  /** The uncounted warm-up compiles before the ghcpw build (slowest of them), in ms. */
  warmupMs: number | null;
  /**
   * The mean time a GHC worker spent per compile of the ghcpw build (the server's status): the module's
   * own work, which no kept state saves; the rest of a ghcpw compile's time is the client and server.
   */
  workerMeanMs: number | null;
  /** Where the ghcpw build's compiles spent their time, mean ms per compile: the workers' stages... */
  stagesMs: Record<string, number> | null;
  /** Of the stages' time, the mean per compile the workers spent collecting garbage (ms). */
  gcMeanMs: number | null;
  /** ...and the server's own parts (see lib/server/status.ts). */
  serverMs: Record<string, number> | null;
  /**
   * Modules (one-job rows only; three, or all with `--all-modules`), each recompiled alone through ghcpw
   * with its stages, beside the
   * same module's phases inside `ghc --make -j1 -ddump-timings` (CPU time, see make_phases.ts).
   */
  modules: { module: string; ghcpw: StageTimes; make: StageTimes | null }[];
  mismatches: string[];
  notes: string[];
}

/** What every row needs. */
export interface RowContext {
  tmp: string;
  ghc: string;
  ghcpwMain: string;
  limit: number | null;
  /** Whether every module is recompiled alone after a one-job row's builds ({@linkcode sampleSteps}). */
  allModules: boolean;
  verbose: boolean;
  server: RunningServer;
  /** "k/n" of this row, for progress lines. */
  position: string;
}

/** The mean time of a one-shot build's compiles (all steps, as the server's worker time counts them). */
export function meanStepMs(build: BuildResult): number {
  return mean([...build.steps.values()].map((t) => t.ms));
}

/** The median time of a one-shot build's Haskell compiles (`hsSteps`; C sources excluded). */
export function medianModuleMs(build: BuildResult, hsSteps: readonly string[]): number {
  return median(hsSteps.flatMap((name) => {
    const t = build.steps.get(name);
    return t === undefined ? [] : [t.ms];
  }));
}

/** Builds the plan in `dir` one compile per step with `runner`, `jobs` at a time in dependency order. */
async function buildOneShot(
  dir: string,
  plan: BuildPlan,
  jobs: number,
  runner: GhcRunner,
  label: string,
  verbose: boolean,
): Promise<BuildResult> {
  const byName = new Map(plan.steps.map((s) => [s.name, s]));
  const deps = new Map(plan.steps.map((s) => [s.name, s.deps]));
  const total = plan.steps.length;
  let done = 0;
  const cpuBefore = cpuTimes();
  const started = performance.now();
  const steps = await runDag(plan.steps.map((s) => s.name), deps, jobs, async (name) => {
    const result = await runner(byName.get(name)!.args, dir);
    done++;
    const line = `    ${label}: ${done}/${total} ${name} ${result.ms.toFixed(0)} ms`;
    // Every compile with -v, else a line overwritten in place on a terminal, or every tenth in a log.
    if (verbose || (!Deno.stderr.isTerminal() && done % 10 === 0)) progress(line);
    else progress(line, true);
    return result;
  }, (r) => r.code === 0);
  const wallMs = performance.now() - started;
  const steal = stealPercent(cpuBefore, cpuTimes());
  progress(`    ${label}: ${steps.size} compiles in ${seconds(wallMs)} (steal ${steal})`);
  const bad = [...steps].find(([, r]) => r.code !== 0);
  const failure = bad
    ? `${label}: compiling ${bad[0]} exited with ${bad[1].code}:\n${bad[1].stdout}${bad[1].stderr}`
    : steps.size < total
    ? `${label}: only ${steps.size} of ${total} steps were compiled`
    : null;
  return { wallMs, steps, failure, steal };
}

/** Builds the plan's sources in `dir` with one `ghc --make -jJOBS -no-link` (no link, like one-shot). */
async function buildMake(
  dir: string,
  plan: BuildPlan,
  jobs: number,
  ghc: string,
): Promise<BuildResult> {
  const args = ["--make", `-j${jobs}`, "-no-link", ...plan.makeFlags, ...makeSources(plan.steps)];
  const cpuBefore = cpuTimes();
  const result = await timeCommand(ghc, args, dir);
  const steal = stealPercent(cpuBefore, cpuTimes());
  progress(`    ghc --make -j${jobs}: ${seconds(result.ms)} (steal ${steal})`);
  return {
    wallMs: result.ms,
    steal,
    steps: new Map([["--make", result]]),
    failure: result.code === 0
      ? null
      : `ghc --make exited with ${result.code}:\n${result.stdout}${result.stderr}`,
  };
}

/** Interface files, including those of hs-boot files and dynamic ones. */
const INTERFACE_SUFFIXES = [".hi", ".dyn_hi", ".hi-boot", ".dyn_hi-boot"];

/**
 * Compares the interface files under two output directories as the tests do (scripts/output_compare.ts):
 * which are missing on either side (`missing`, `extra`) and why others differ (`differing`), out of
 * `compared`; `allowed` counts those equal but for the hashes of home object files that GHC 9.4+ records.
 */
export async function compareInterfaces(
  ghc: string,
  expectedDir: string,
  actualDir: string,
): Promise<{ compared: number; missing: string[]; extra: string[]; differing: string[]; allowed: number }> {
  const isInterface = (f: string) => INTERFACE_SUFFIXES.some((s) => f.endsWith(s));
  const expected = (await listFiles(expectedDir)).filter(isInterface);
  const actual = new Set((await listFiles(actualDir)).filter(isInterface));
  const missing: string[] = [];
  const differing: string[] = [];
  let allowed = 0;
  for (const file of expected) {
    if (!actual.delete(file)) {
      missing.push(file);
      continue;
    }
    if (await sameBytes(`${expectedDir}/${file}`, `${actualDir}/${file}`)) continue;
    const mismatch = await outputMismatch(ghc, expectedDir, actualDir, file);
    if (mismatch === null) allowed++;
    else differing.push(mismatch);
  }
  return { compared: expected.length, missing, extra: [...actual], differing, allowed };
}

/** Compares what each compile printed in two builds; returns the steps whose output differs. */
function compareDiagnostics(expected: BuildResult, actual: BuildResult): string[] {
  const differences: string[] = [];
  for (const [name, cold] of expected.steps) {
    const warm = actual.steps.get(name);
    if (warm === undefined) continue;
    if (warm.stdout !== cold.stdout || warm.stderr !== cold.stderr) {
      differences.push(
        `${name}: output differs\n--- cold:\n${cold.stdout}${cold.stderr}` +
          `--- ghcpw:\n${warm.stdout}${warm.stderr}`,
      );
    }
  }
  return differences;
}

/** A short directory name for a flag set, e.g. `O0_dynamic-too`. */
function slug(config: BenchConfig): string {
  return config.flags.map((f) => f.replace(/^-+/, "")).join("_") || "default";
}

/**
 * Compiles the plan's first module without home imports once on every worker of the server, at the
 * same time and each in a tree of its own, so the ghcpw build starts on warm workers (GHC started,
 * package databases read). Resolves to the slowest compile's time, not counted in the build.
 */
async function warmUp(base: string, plan: BuildPlan, ctx: RowContext): Promise<number> {
  const step = plan.steps.find((s) => s.kind === "hs" && s.deps.length === 0);
  if (step === undefined) return 0;
  const runner = ghcpwRunner(ctx.ghcpwMain, ctx.ghc, ctx.server.socket, ctx.server.share);
  const runs = await Promise.all(Array.from({ length: ctx.server.jobs }, async (_, i) => {
    const dir = `${base}/warmup${i}`;
    await plan.populate(dir);
    return await runner(step.args, dir);
  }));
  const failed = runs.find((r) => r.code !== 0);
  if (failed) {
    throw new Error(`the warm-up compile of ${step.name} failed:\n${failed.stdout}${failed.stderr}`);
  }
  return Math.max(...runs.map((r) => r.ms));
}

/**
 * Builds the plan in `dir` through a `ghcpw bazel --persistent_worker` started there for this build, as
 * Bazel runs a worker in its execroot. As for the server (see 'warmUp'), an uncounted compile first warms
 * each of its GHC processes (of a module without home imports, a different one per process where there
 * are enough); their outputs are then removed, so the counted build compiles every module.
 */
async function buildViaBazel(
  dir: string,
  plan: BuildPlan,
  jobs: number,
  ctx: RowContext,
): Promise<BuildResult> {
  await plan.populate(dir);
  const worker = startBazelWorker(ctx.ghcpwMain, ctx.ghc, dir, jobs, ctx.server.share);
  try {
    const roots = plan.steps.filter((s) => s.kind === "hs" && s.deps.length === 0);
    const warm = await Promise.all(
      Array.from({ length: Math.min(jobs, roots.length) }, (_, i) => worker.runner(roots[i].args, dir)),
    );
    const failed = warm.find((r) => r.code !== 0);
    if (failed) throw new Error(`the warm-up compile failed:\n${failed.stderr}`);
    progress(`    warm-up of the Bazel worker, not counted: ${seconds(Math.max(...warm.map((r) => r.ms)))}`);
    await Deno.remove(`${dir}/${plan.outDir}`, { recursive: true }).catch(() => {});
    return await buildOneShot(dir, plan, jobs, worker.runner, "bazel worker", ctx.verbose);
  } finally {
    await worker.stop();
  }
}

/**
 * The modules recompiled alone for their stages: every Haskell module of the plan with `all`, else the
 * first, middle and last.
 */
function sampleSteps(plan: BuildPlan, all: boolean): PlanStep[] {
  const hs = plan.steps.filter((s) => s.kind === "hs" && !s.file.endsWith("-boot"));
  return all ? hs : firstMiddleLast(hs);
}

/** The first, middle and last of a list, each once: the modules the report shows one by one. */
export function firstMiddleLast<T>(items: readonly T[]): T[] {
  return [...new Set([items[0], items[Math.floor(items.length / 2)], items[items.length - 1]])].filter((x) =>
    x !== undefined
  );
}

/** Measures one project with one flag set at one job count: the four builds, then the checks. */
export async function benchRow(
  ctx: RowContext,
  project: BenchProject,
  config: BenchConfig,
  jobs: number,
): Promise<ConfigResult> {
  const plan = limitPlan(project.plan(config), ctx.limit);
  const name = `${project.name} ${flagsText(config)}${plan.note ? ` (${plan.note})` : ""} -j${jobs} ` +
    `--share ${ctx.server.share}`;
  progress(`[${ctx.position}] ${name}: ${plan.steps.length} compiles`);
  const base = `${ctx.tmp}/${project.name}/j${jobs}/${slug(config)}/share-${ctx.server.share}`;
  const dirs = { cold: `${base}/cold`, ghcpw: `${base}/ghcpw`, bazel: `${base}/bazel`, make: `${base}/make` };
  for (const dir of Object.values(dirs)) await plan.populate(dir);
  const result: ConfigResult = {
    project: project.name,
    config,
    share: ctx.server.share,
    note: plan.note,
    jobs,
    hsSteps: plan.steps.filter((s) => s.kind === "hs").map((s) => s.name),
    cold: await buildOneShot(dirs.cold, plan, jobs, coldRunner(ctx.ghc), "cold ghc -c", ctx.verbose),
    ghcpw: null,
    bazel: null,
    make: null,
    warmupMs: null,
    workerMeanMs: null,
    stagesMs: null,
    gcMeanMs: null,
    serverMs: null,
    modules: [],
    mismatches: [],
    notes: [],
  };
  if (result.cold.failure !== null) {
    result.mismatches.push(`the cold build failed, so ghcpw and --make were not run: ${result.cold.failure}`);
    return result;
  }
  const linked: { method: string; run: Timed | null; link: Timed }[] = [];
  if (plan.link) linked.push({ method: "cold", ...await plan.link(dirs.cold, coldRunner(ctx.ghc)) });

  try {
    result.warmupMs = await warmUp(base, plan, ctx);
    progress(`    warm-up on ${ctx.server.jobs} worker(s), not counted: ${seconds(result.warmupMs)}`);
    const before = await serverTotals(ctx.server.socket);
    const runner = ghcpwRunner(ctx.ghcpwMain, ctx.ghc, ctx.server.socket, ctx.server.share);
    const ghcpw = await buildOneShot(dirs.ghcpw, plan, jobs, runner, "ghcpw ghc", ctx.verbose);
    result.ghcpw = ghcpw;
    const after = await serverTotals(ctx.server.socket);
    if (ghcpw.failure !== null) result.mismatches.push(`ghcpw build failed: ${ghcpw.failure}`);
    const served = after.requests - before.requests;
    if (served !== ghcpw.steps.size) {
      result.mismatches.push(`the server counted ${served} requests, the build sent ${ghcpw.steps.size}`);
    }
    for (const trouble of troubleBetween(before, after)) {
      result.mismatches.push(`${trouble} during the build`);
    }
    result.workerMeanMs = served > 0 ? (after.workerMs - before.workerMs) / served : null;
    if (served > 0) {
      result.stagesMs = meanGrowth(before.stagesMs, after.stagesMs, served);
      result.gcMeanMs = (after.gcMs - before.gcMs) / served;
      result.serverMs = meanGrowth(before.serverMs, after.serverMs, served);
    }
    if (jobs === 1 && ghcpw.failure === null) {
      const steps = sampleSteps(plan, ctx.allModules);
      for (const [i, step] of steps.entries()) {
        if (steps.length > 3 && (i + 1) % 50 === 0) {
          progress(`    recompiling alone: ${i + 1}/${steps.length} ${step.name}`);
        }
        const ahead = await serverTotals(ctx.server.socket);
        const r = await runner(["-fforce-recomp", ...step.args], dirs.ghcpw);
        if (r.code !== 0) {
          result.mismatches.push(`recompiling ${step.name} through ghcpw failed: ${r.stderr}`);
        }
        const behind = await serverTotals(ctx.server.socket);
        result.modules.push({
          module: step.name,
          ghcpw: meanGrowth(ahead.stagesMs, behind.stagesMs, 1),
          make: null,
        });
      }
    }
    if (plan.link && ghcpw.failure === null) {
      linked.push({ method: "ghcpw", ...await plan.link(dirs.ghcpw, runner) });
    }
  } catch (e) {
    result.mismatches.push(`ghcpw: ${e instanceof Error ? e.message : e}`);
  }

  try {
    result.bazel = await buildViaBazel(dirs.bazel, plan, jobs, ctx);
    if (result.bazel.failure !== null) {
      result.mismatches.push(`bazel worker build failed: ${result.bazel.failure}`);
    }
  } catch (e) {
    result.mismatches.push(`bazel worker: ${e instanceof Error ? e.message : e}`);
  }

  result.make = await buildMake(dirs.make, plan, jobs, ctx.ghc);
  if (result.make.failure !== null) result.mismatches.push(result.make.failure);
  else if (result.modules.length > 0) {
    // A build of its own: printing the timings costs --make a little, which the timed build must not pay.
    const dir = `${base}/make-timings`;
    await plan.populate(dir);
    const args = [
      "--make",
      "-j1",
      "-no-link",
      "-ddump-timings",
      ...plan.makeFlags,
      ...makeSources(plan.steps),
    ];
    const timings = await timeCommand(ctx.ghc, args, dir);
    const phases = parseMakeTimings(timings.stdout + timings.stderr);
    for (const m of result.modules) m.make = phases.get(m.module) ?? null;
  } else if (plan.link) linked.push({ method: "--make", ...await plan.link(dirs.make, coldRunner(ctx.ghc)) });

  for (
    const [method, build, dir] of [["ghcpw", result.ghcpw, dirs.ghcpw], [
      "bazel worker",
      result.bazel,
      dirs.bazel,
    ]] as const
  ) {
    if (build?.failure !== null) continue;
    const { compared, missing, extra, differing, allowed } = await compareInterfaces(
      ctx.ghc,
      `${dirs.cold}/${plan.outDir}`,
      `${dir}/${plan.outDir}`,
    );
    for (const file of missing) result.mismatches.push(`${method} did not write ${file}`);
    for (const file of extra) result.mismatches.push(`${method} wrote ${file}, cold ghc did not`);
    result.notes.push(
      `${method} wrote ${
        missing.length + extra.length === 0 ? "the same" : "OTHER"
      } ${compared} interface files ` +
        `as cold; ${compared - missing.length - differing.length - allowed} byte-identical` +
        (allowed ? `, ${allowed} equal but for the hashes of home object files (GHC 9.4+ TH)` : ""),
    );
    for (const d of differing) result.mismatches.push(`${method}: ${d}`);
    // The Bazel worker answers with both streams in one output, so only the ghcpw build's stdout and
    // stderr can be held against cold ghc's apart.
    if (method === "ghcpw") {
      for (const d of compareDiagnostics(result.cold, build)) result.mismatches.push(`diagnostics: ${d}`);
    }
  }
  if (linked.length > 0) {
    const [reference, ...others] = linked;
    for (const { method, link, run } of linked) {
      if (link.code !== 0) result.mismatches.push(`linking the ${method} objects failed:\n${link.stderr}`);
      else if (run!.code !== 0) {
        result.mismatches.push(`the ${method} program exited with ${run!.code}:\n${run!.stderr}`);
      }
    }
    for (const other of others) {
      if (reference.run !== null && other.run !== null && other.run.stdout !== reference.run.stdout) {
        result.mismatches.push(`the ${other.method} program prints differently from the cold one`);
      }
    }
    const ok = linked.filter((l) => l.run !== null && l.run.stdout === reference.run?.stdout);
    result.notes.push(
      `linked programs (${linked.map((l) => l.method).join(", ")}): ${ok.length}/${linked.length} print ` +
        `the cold program's ${reference.run?.stdout.trimEnd().split("\n").length ?? 0} lines`,
    );
  }
  for (const m of result.mismatches) progress(`    MISMATCH: ${m}`);
  return result;
}
