/**
 * The client's overhead per compile, as issue 15 defines it: `ghcpw ghc` wall time minus the worker's own
 * time. Requests run one at a time as subprocesses (what a build system runs per module); the server's
 * status, read before and after each request (untimed), says how long its worker spent on that one
 * (lib/server/status.ts, `totals.workerMs`), and the rest is the client (Deno's start-up, loading ghcpw,
 * finding the server) and the server's routing. As references: `ghc --numeric-version` against
 * `ghcpw ghc -- --numeric-version`, and what any Deno client pays on this machine before its own code runs
 * (`deno run` of an empty script, `deno --version`), which shows how far down the overhead can go.
 *
 * @module
 */

import { configFor, syntheticProject } from "./projects.ts";
import { serverTotals } from "./in_process.ts";
import { coldRunner, DENO_RUN_ARGS, ghcpwRunner } from "./server.ts";
import { mean, median, progress, timeCommand, type Timed } from "./process.ts";

/** The small synthetic project the overhead and memory measurements compile: ordinary modules and Main. */
const SMALL_PROJECT_MODULES = 6;

/** A tree and the compiles that measurements repeat in it (each recompiles one module). */
export interface SmallProject {
  dir: string;
  args: string[][];
  /** What each request is, for the report. */
  request: string;
}

/**
 * Writes the small synthetic project (the benchmark's generator and plan) under `dir` and compiles it
 * once with cold ghc, so every interface exists and any module can be recompiled on its own.
 */
export async function smallProject(dir: string, ghc: string): Promise<SmallProject> {
  const plan = syntheticProject(SMALL_PROJECT_MODULES, 1).plan(configFor("-O0 -fforce-recomp"));
  await plan.populate(dir);
  const args = plan.steps.map((s) => s.args);
  for (const a of args) check(`cold ghc ${a.join(" ")}`, await coldRunner(ghc)(a, dir));
  return {
    dir,
    args,
    request: `ghc -c -O0 -fforce-recomp of the ${args.length} modules of a small synthetic project, in turn`,
  };
}

/** What {@linkcode measureOverhead} found; times are in ms. */
export interface OverheadResult {
  requests: number;
  request: string;
  /** Median and mean wall time of a `ghcpw ghc` subprocess. */
  wallMedianMs: number;
  wallMeanMs: number;
  /** Median and mean time the worker spent per request (the server's status). */
  workerMedianMs: number;
  workerMeanMs: number;
  /** Median and mean of each request's wall time minus its worker's time: the client overhead per compile. */
  overheadMedianMs: number;
  overheadMeanMs: number;
  /** Runs of each reference below. */
  referenceRuns: number;
  /** Medians: `deno run` (the client's flags) of an empty script, and `deno --version`. */
  denoEmptyMs: number;
  denoVersionMs: number;
  versionRuns: number;
  ghcVersionMs: number;
  ghcpwVersionMs: number;
}

/** Fails with the output of a run that did not succeed. */
function check(what: string, r: Timed): Timed {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

/** Median wall time of `runs` runs of a command that must succeed, after one uncounted run (caches). */
async function medianRun(runs: number, what: string, run: () => Promise<Timed>): Promise<number> {
  check(what, await run());
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(check(what, await run()).ms);
  return median(times);
}

/** Sends `requests` compiles of the small project, one at a time, to the server on `socket`. */
export async function measureOverhead(options: {
  project: SmallProject;
  ghc: string;
  ghcpwMain: string;
  socket: string;
  /** The server's `--share` setting. */
  share: string;
  requests: number;
  versionRuns: number;
}): Promise<OverheadResult> {
  const { project, ghc, socket } = options;
  progress(`[client overhead] ${options.requests} requests, in ${project.dir}`);
  const client = ghcpwRunner(options.ghcpwMain, ghc, socket, options.share);
  check("the first request", await client(project.args[0], project.dir));
  const walls: number[] = [];
  const workers: number[] = [];
  // Nothing else talks to the server, so each reading is the one after a request and before the next.
  let before = await serverTotals(socket);
  for (let i = 0; i < options.requests; i++) {
    const a = project.args[i % project.args.length];
    const wall = check(`ghcpw ghc ${a.at(-1)}`, await client(a, project.dir)).ms;
    const after = await serverTotals(socket);
    if (after.requests - before.requests !== 1) {
      throw new Error(`the server counted ${after.requests - before.requests} requests for one`);
    }
    walls.push(wall);
    workers.push(after.workerMs - before.workerMs);
    before = after;
    progress(
      `    ${i + 1}/${options.requests} ${a.at(-1)}: ${wall.toFixed(0)} ms, worker ${
        workers[i].toFixed(0)
      } ms`,
      true,
    );
  }
  const overheads = walls.map((w, i) => w - workers[i]);
  const deno = Deno.execPath();
  const empty = `${project.dir}/empty.ts`;
  await Deno.writeTextFile(empty, "// Nothing: what any Deno client costs before its own code runs.\n");
  const referenceRuns = options.requests;
  const denoEmptyMs = await medianRun(
    referenceRuns,
    "deno run of an empty script",
    () => timeCommand(deno, [...DENO_RUN_ARGS, empty], project.dir),
  );
  const denoVersionMs = await medianRun(
    referenceRuns,
    "deno --version",
    () => timeCommand(deno, ["--version"], project.dir),
  );
  const ghcVersionMs = await medianRun(
    options.versionRuns,
    "ghc --numeric-version",
    () => coldRunner(ghc)(["--numeric-version"], "/"),
  );
  const ghcpwVersionMs = await medianRun(
    options.versionRuns,
    "ghcpw ghc -- --numeric-version",
    () => client(["--numeric-version"], "/"),
  );
  const result: OverheadResult = {
    requests: options.requests,
    request: project.request,
    wallMedianMs: median(walls),
    wallMeanMs: mean(walls),
    workerMedianMs: median(workers),
    workerMeanMs: mean(workers),
    overheadMedianMs: median(overheads),
    overheadMeanMs: mean(overheads),
    referenceRuns,
    denoEmptyMs,
    denoVersionMs,
    versionRuns: options.versionRuns,
    ghcVersionMs,
    ghcpwVersionMs,
  };
  progress(
    `    client and server overhead per compile: median ${result.overheadMedianMs.toFixed(0)} ms, mean ` +
      `${result.overheadMeanMs.toFixed(0)} ms; deno run of an empty script ${denoEmptyMs.toFixed(0)} ms`,
  );
  return result;
}
