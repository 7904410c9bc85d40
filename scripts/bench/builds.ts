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
} from "./projects.ts";
import { coldRunner, ghcpwRunner, type GhcRunner, type RunningServer } from "./server.ts";
import { serverTotals, troubleBetween } from "./in_process.ts";
import {
  cpuTimes,
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
  /** The plan's note, e.g. "+TH". */
  note: string;
  jobs: number;
  /** The steps compiling Haskell modules (C sources not counted). */
  hsSteps: string[];
  cold: BuildResult;
  ghcpw: BuildResult | null;
  make: BuildResult | null;
  /** The uncounted warm-up compiles before the ghcpw build (slowest of them), in ms. */
  warmupMs: number | null;
  /**
   * The mean time a GHC worker spent per compile of the ghcpw build (the server's status): the module's
   * own work, which no kept state saves; the rest of a ghcpw compile's time is the client and server.
   */
  workerMeanMs: number | null;
  mismatches: string[];
  notes: string[];
}

/** What every row needs. */
export interface RowContext {
  tmp: string;
  ghc: string;
  ghcpwMain: string;
  limit: number | null;
  verbose: boolean;
  server: RunningServer;
  /** "k/n" of this row, for progress lines. */
  position: string;
}

/** The mean time of a one-shot build's compiles (all steps, as the server's worker time counts them). */
export function meanStepMs(build: BuildResult): number {
  const times = [...build.steps.values()].map((t) => t.ms);
  return times.reduce((a, b) => a + b, 0) / times.length;
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
  const runner = ghcpwRunner(ctx.ghcpwMain, ctx.ghc, ctx.server.socket);
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

/** Measures one project with one flag set at one job count: the three builds, then the checks. */
export async function benchRow(
  ctx: RowContext,
  project: BenchProject,
  config: BenchConfig,
  jobs: number,
): Promise<ConfigResult> {
  const plan = limitPlan(project.plan(config), ctx.limit);
  const name = `${project.name} ${flagsText(config)}${plan.note ? ` (${plan.note})` : ""} -j${jobs}`;
  progress(`[${ctx.position}] ${name}: ${plan.steps.length} compiles`);
  const base = `${ctx.tmp}/${project.name}/j${jobs}/${slug(config)}`;
  const dirs = { cold: `${base}/cold`, ghcpw: `${base}/ghcpw`, make: `${base}/make` };
  for (const dir of Object.values(dirs)) await plan.populate(dir);
  const result: ConfigResult = {
    project: project.name,
    config,
    note: plan.note,
    jobs,
    hsSteps: plan.steps.filter((s) => s.kind === "hs").map((s) => s.name),
    cold: await buildOneShot(dirs.cold, plan, jobs, coldRunner(ctx.ghc), "cold ghc -c", ctx.verbose),
    ghcpw: null,
    make: null,
    warmupMs: null,
    workerMeanMs: null,
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
    const runner = ghcpwRunner(ctx.ghcpwMain, ctx.ghc, ctx.server.socket);
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
    if (plan.link && ghcpw.failure === null) {
      linked.push({ method: "ghcpw", ...await plan.link(dirs.ghcpw, runner) });
    }
  } catch (e) {
    result.mismatches.push(`ghcpw: ${e instanceof Error ? e.message : e}`);
  }

  result.make = await buildMake(dirs.make, plan, jobs, ctx.ghc);
  if (result.make.failure !== null) result.mismatches.push(result.make.failure);
  else if (plan.link) linked.push({ method: "--make", ...await plan.link(dirs.make, coldRunner(ctx.ghc)) });

  if (result.ghcpw?.failure === null) {
    const { compared, missing, extra, differing, allowed } = await compareInterfaces(
      ctx.ghc,
      `${dirs.cold}/${plan.outDir}`,
      `${dirs.ghcpw}/${plan.outDir}`,
    );
    for (const file of missing) result.mismatches.push(`ghcpw did not write ${file}`);
    for (const file of extra) result.mismatches.push(`ghcpw wrote ${file}, cold ghc did not`);
    result.notes.push(
      `ghcpw wrote ${
        missing.length + extra.length === 0 ? "the same" : "OTHER"
      } ${compared} interface files ` +
        `as cold; ${compared - missing.length - differing.length - allowed} byte-identical` +
        (allowed ? `, ${allowed} equal but for the hashes of home object files (GHC 9.4+ TH)` : ""),
    );
    for (const d of differing) result.mismatches.push(d);
    for (const d of compareDiagnostics(result.cold, result.ghcpw)) {
      result.mismatches.push(`diagnostics: ${d}`);
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
