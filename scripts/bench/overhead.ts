/**
 * The client's per-request overhead, as the issue defines it: `ghcpw ghc` wall time minus the worker's
 * own time. Requests run one at a time as subprocesses (what a build system runs per module); the
 * server's status says how long its workers spent on them (lib/server/status.ts, `totals.workerMs`), and the
 * rest is the client (Deno's start-up, loading ghcpw, finding the server) and the server's routing.
 * Plus `ghc --numeric-version` against `ghcpw ghc -- --numeric-version` as a reference.
 *
 * @module
 */

import { configFor, syntheticProject } from "./projects.ts";
import { serverTotals } from "./in_process.ts";
import { coldRunner, ghcpwRunner } from "./server.ts";
import { median, progress, type Timed } from "./process.ts";

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
  /** Mean time the worker spent per request (the server's status). */
  workerMeanMs: number;
  versionRuns: number;
  ghcVersionMs: number;
  ghcpwVersionMs: number;
}

/** Fails with the output of a run that did not succeed. */
function check(what: string, r: Timed): Timed {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
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
  const before = await serverTotals(socket);
  const walls: number[] = [];
  for (let i = 0; i < options.requests; i++) {
    const a = project.args[i % project.args.length];
    walls.push(check(`ghcpw ghc ${a.at(-1)}`, await client(a, project.dir)).ms);
    progress(`    ${i + 1}/${options.requests} ${a.at(-1)}: ${walls[i].toFixed(0)} ms`, true);
  }
  const after = await serverTotals(socket);
  if (after.requests - before.requests !== options.requests) {
    throw new Error(
      `the server counted ${after.requests - before.requests} requests, expected ${options.requests}`,
    );
  }
  const plain: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < options.versionRuns; i++) {
    plain.push(check("ghc --numeric-version", await coldRunner(ghc)(["--numeric-version"], "/")).ms);
    version.push(check("ghcpw ghc -- --numeric-version", await client(["--numeric-version"], "/")).ms);
  }
  const result: OverheadResult = {
    requests: options.requests,
    request: project.request,
    wallMedianMs: median(walls),
    wallMeanMs: walls.reduce((a, b) => a + b, 0) / walls.length,
    workerMeanMs: (after.workerMs - before.workerMs) / options.requests,
    versionRuns: options.versionRuns,
    ghcVersionMs: median(plain),
    ghcpwVersionMs: median(version),
  };
  progress(
    `    wall ${result.wallMeanMs.toFixed(0)} ms, worker ${result.workerMeanMs.toFixed(0)} ms (means): ` +
      `client and server overhead ${(result.wallMeanMs - result.workerMeanMs).toFixed(0)} ms per request`,
  );
  return result;
}
