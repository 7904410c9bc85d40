/**
 * What the benchmark builds: the synthetic project (scripts/gen_project.ts) and a real library fetched
 * from Debian (scripts/real_library.ts; aeson by default), each turned into a build plan for one flag
 * set: the one-shot compiles in dependency order, the equivalent `ghc --make` flags, and how to lay out
 * a fresh source tree.
 *
 * @module
 */

import { generateProject, type ModuleSpec, type Project, writeProject } from "../gen_project.ts";
import { prepareRealLibrary, type RealLibrary } from "../real_library/library.ts";
import type { GhcRunner } from "./server.ts";
import { timeCommand, type Timed } from "./process.ts";

/** The flag sets measured when no `--flags` is given. */
export const DEFAULT_FLAGS = ["-O0", "-O0 -dynamic-too", "-fno-code -fwrite-interface", "-O1"];

/** One flag set: the GHC flags added to every Haskell compile. */
export interface BenchConfig {
  flags: string[];
}

/** A configuration from a flags string. */
export function configFor(flags: string): BenchConfig {
  return { flags: flags.split(/\s+/).filter((f) => f !== "") };
}

/** The flags as written on the command line, e.g. `-O0 -dynamic-too`. */
export function flagsText(config: BenchConfig): string {
  return config.flags.join(" ") || "(none)";
}

/** Whether a configuration produces object code (so there is a program to link and run). */
function producesCode(config: BenchConfig): boolean {
  return !config.flags.includes("-fno-code");
}

/** One one-shot compile of a build. */
export interface PlanStep {
  /** Unique name: the module (`X[boot]` for an hs-boot file), or the file of a C source. */
  name: string;
  /** Source path relative to the tree. */
  file: string;
  kind: "hs" | "c";
  /** Names of the steps that must finish first. */
  deps: string[];
  /** The whole ghc command line, `-c ...`, relative to the tree. */
  args: string[];
}

/** How to build one project with one flag set. */
export interface BuildPlan {
  /** The one-shot compiles in dependency order. */
  steps: PlanStep[];
  /** What the row is, beyond the flags: e.g. "+3 TH modules". */
  note: string;
  /** Flags of `ghc --make` (without the mode, -j and the source files, which the build adds). */
  makeFlags: string[];
  /** Where interface files go, relative to the tree. */
  outDir: string;
  /** Writes a fresh source tree into `dir` (created if missing). */
  populate(dir: string): Promise<void>;
  /** Links the objects of a complete build in `dir` and runs the program; null when there is none. */
  link: ((dir: string, runner: GhcRunner) => Promise<{ link: Timed; run: Timed | null }>) | null;
}

/** A project: a name and a build plan per flag set. */
export interface BenchProject {
  name: string;
  /** One line saying what it is (for the report). */
  description: string;
  plan(config: BenchConfig): BuildPlan;
}

/** Keeps the first `limit` steps (a prefix of a dependency order needs nothing after it). */
export function limitPlan(plan: BuildPlan, limit: number | null): BuildPlan {
  if (limit === null || limit >= plan.steps.length) return plan;
  return {
    ...plan,
    steps: plan.steps.slice(0, limit),
    link: null,
    note: `${plan.note} first ${limit}`.trim(),
  };
}

/** The source files `ghc --make` is given for the steps: Haskell modules (not hs-boot files), then C. */
export function makeSources(steps: readonly PlanStep[]): string[] {
  return [
    ...steps.filter((s) => s.kind === "hs" && !/-boot$/.test(s.file)).map((s) => s.file),
    ...steps.filter((s) => s.kind === "c").map((s) => s.file),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// The synthetic project

/** Whether the synthetic project includes its TH modules: only where one-shot TH works (-dynamic-too, code). */
function syntheticHasTh(config: BenchConfig): boolean {
  return config.flags.includes("-dynamic-too") && producesCode(config);
}

/** The object file of a module under `out/`, as one-shot and --make builds with -odir out name it. */
function objectFile(name: string): string {
  return `out/${name.replaceAll(".", "/")}.o`;
}

/** The one-shot arguments compiling one module: outputs and imported interfaces under `out/`. */
function oneShotArgs(config: BenchConfig, spec: ModuleSpec): string[] {
  return ["-c", ...config.flags, "-iout", "-odir", "out", "-hidir", "out", spec.file];
}

/** Links the project's objects in `dir` into `dir/prog` with `runner`, then runs the program. */
async function linkAndRun(
  dir: string,
  project: Project,
  th: boolean,
  runner: GhcRunner,
): Promise<{ link: Timed; run: Timed | null }> {
  const packages = ["-package", "containers", ...(th ? ["-package", "template-haskell"] : [])];
  const link = await runner(["-o", "prog", ...packages, ...project.order.map(objectFile)], dir);
  if (link.code !== 0) return { link, run: null };
  return { link, run: await timeCommand(`${dir}/prog`, [], dir) };
}

/**
 * The synthetic project: `modules` ordinary modules and Main (plus the 3 Template Haskell modules with
 * -dynamic-too, which a dynamically linked GHC needs for one-shot TH).
 */
export function syntheticProject(modules: number, seed: number): BenchProject {
  return {
    name: "synthetic",
    description: `synthetic: scripts/gen_project.ts, ${modules} ordinary modules + Main (+3 TH modules ` +
      `with -dynamic-too), seed ${seed}`,
    plan(config) {
      const th = syntheticHasTh(config);
      const project = generateProject({ modules, th, seed });
      const specs = new Map(project.modules.map((m) => [m.name, m]));
      return {
        steps: project.order.map((name) => {
          const spec = specs.get(name)!;
          return { name, file: spec.file, kind: "hs", deps: spec.imports, args: oneShotArgs(config, spec) };
        }),
        note: th ? "+TH" : "",
        makeFlags: [...config.flags, "-isrc", "-odir", "out", "-hidir", "out"],
        outDir: "out",
        populate: (dir) => writeProject(dir, project),
        link: producesCode(config) ? (dir, runner) => linkAndRun(dir, project, th, runner) : null,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// A real library

/**
 * A real library from Debian (scripts/real_library.ts: fetched once with `apt-get source`, its
 * dependencies installed from libghc-NAME-dev), built as tests/system/real_library_test.ts builds it: its C
 * sources with the library's C flags, then every module with the library's flags plus the flag set.
 */
export async function realLibraryProject(name: string, ghc: string): Promise<BenchProject> {
  const lib = await prepareRealLibrary(name, { ghc });
  return realLibraryFrom(lib);
}

/** The project of an already prepared library. */
function realLibraryFrom(lib: RealLibrary): BenchProject {
  const hsCount = lib.steps.filter((s) => s.module !== null).length;
  return {
    name: lib.name,
    description:
      `${lib.name}: ${lib.name}-${lib.version} (Debian ${lib.sourcePackage} ${lib.debianVersion}), ` +
      `${hsCount} modules, ${lib.cSources.length} C sources, flags from its .cabal file (scripts/real_library.ts)`,
    plan(config) {
      const hsFlags = [...lib.flags, ...config.flags];
      const steps: PlanStep[] = lib.steps.map((step) =>
        step.module === null
          ? {
            name: step.file,
            file: step.file,
            kind: "c",
            deps: [],
            args: ["-c", ...lib.cSourceFlags, step.file],
          }
          : {
            name: step.module,
            file: step.file,
            kind: "hs",
            deps: step.imports,
            args: ["-c", ...hsFlags, step.file],
          }
      );
      // --make compiles the C sources too, with the same C options (those of cSourceFlags that -optc passes).
      const cOptions = lib.cSources.length > 0 ? lib.cSourceFlags.filter((f) => f.startsWith("-optc")) : [];
      return {
        steps,
        note: "",
        makeFlags: [...hsFlags, ...cOptions],
        outDir: lib.buildDir,
        populate: async (dir) => {
          await Deno.mkdir(dir, { recursive: true });
          const copy = await new Deno.Command("cp", { args: ["-a", `${lib.dir}/.`, dir], stderr: "piped" })
            .output();
          if (copy.code !== 0) {
            throw new Error(`copying ${lib.dir} failed: ${new TextDecoder().decode(copy.stderr)}`);
          }
        },
        link: null,
      };
    },
  };
}
