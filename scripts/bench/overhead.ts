/**
 * The client's per-request overhead: the same requests timed as `ghcpw ghc` subprocesses (what a build
 * system runs per module) and sent in-process through lib/client.ts to the same server (server and
 * worker time plus a socket round trip); the difference is what the client itself costs per request —
 * Deno's start-up, loading ghcpw, finding the server. Plus `ghc --numeric-version` against
 * `ghcpw ghc -- --numeric-version` as a reference.
 *
 * @module
 */

import { generateProject, writeProject } from "../gen_project.ts";
import { inProcessGhcpw } from "./in_process.ts";
import { oneShotArgs } from "./projects.ts";
import { coldRunner, ghcpwRunner } from "./server.ts";
import { median, progress, type Timed } from "./process.ts";

/** The small synthetic project the overhead and memory measurements compile: ordinary modules and Main. */
export const SMALL_PROJECT_MODULES = 6;

/** A small synthetic project written under `dir` and compiled once with cold ghc, so every interface exists. */
export async function smallProject(dir: string, ghc: string): Promise<{ files: string[]; args: string[][] }> {
  const project = generateProject({ modules: SMALL_PROJECT_MODULES, th: false, seed: 1 });
  await writeProject(dir, project);
  const specs = new Map(project.modules.map((m) => [m.name, m]));
  const args = project.order.map((name) =>
    oneShotArgs({ flags: ["-O0", "-fforce-recomp"] }, specs.get(name)!)
  );
  for (const a of args) {
    const r = await coldRunner(ghc)(a, dir);
    if (r.code !== 0) throw new Error(`compiling the small project failed:\n${r.stderr}`);
  }
  return { files: project.order.map((name) => specs.get(name)!.file), args };
}

/** What {@linkcode measureOverhead} found; times are medians in ms. */
export interface OverheadResult {
  requests: number;
  /** What each request was. */
  request: string;
  subprocessMs: number;
  inProcessMs: number;
  /** The median of (subprocess − in-process) over pairs of the same request. */
  pairedDifferenceMs: number;
  versionRuns: number;
  ghcVersionMs: number;
  ghcpwVersionMs: number;
}

/** Fails with the output of a request that did not succeed. */
function check(what: string, r: Timed): Timed {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

/**
 * Sends `requests` compiles (`-c -O0 -fforce-recomp`, cycling over a small project's modules) both ways
 * to the server on `socket`, alternating which goes first, after one uncounted request each way.
 */
export async function measureOverhead(options: {
  dir: string;
  ghc: string;
  ghcpwMain: string;
  socket: string;
  requests: number;
  versionRuns: number;
}): Promise<OverheadResult> {
  const { dir, ghc, socket } = options;
  progress(`[client overhead] ${options.requests} requests each way, in ${dir}`);
  const { args } = await smallProject(dir, ghc);
  const subprocess = ghcpwRunner(options.ghcpwMain, ghc, socket);
  const inProcess = (a: string[]) => inProcessGhcpw(socket, ghc, a, dir);
  check("the first subprocess request", await subprocess(args[0], dir));
  check("the first in-process request", await inProcess(args[0]));
  const sub: number[] = [];
  const inp: number[] = [];
  for (let i = 0; i < options.requests; i++) {
    const a = args[i % args.length];
    const file = a.at(-1)!;
    if (i % 2 === 0) {
      sub.push(check(`ghcpw ghc ${file}`, await subprocess(a, dir)).ms);
      inp.push(check(`in-process ${file}`, await inProcess(a)).ms);
    } else {
      inp.push(check(`in-process ${file}`, await inProcess(a)).ms);
      sub.push(check(`ghcpw ghc ${file}`, await subprocess(a, dir)).ms);
    }
    progress(
      `    ${i + 1}/${options.requests} ${file}: subprocess ${sub[i].toFixed(0)} ms, in-process ${
        inp[i].toFixed(0)
      } ms`,
      true,
    );
  }
  const plain: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < options.versionRuns; i++) {
    plain.push(check("ghc --numeric-version", await coldRunner(ghc)(["--numeric-version"], "/")).ms);
    client.push(check("ghcpw ghc -- --numeric-version", await subprocess(["--numeric-version"], "/")).ms);
  }
  const result: OverheadResult = {
    requests: options.requests,
    request: `ghc -c -O0 -fforce-recomp of the ${args.length} modules of a small synthetic project, in turn`,
    subprocessMs: median(sub),
    inProcessMs: median(inp),
    pairedDifferenceMs: median(sub.map((s, i) => s - inp[i])),
    versionRuns: options.versionRuns,
    ghcVersionMs: median(plain),
    ghcpwVersionMs: median(client),
  };
  progress(
    `    subprocess ${result.subprocessMs.toFixed(0)} ms, in-process ${result.inProcessMs.toFixed(0)} ms ` +
      `(medians): client overhead ${result.pairedDifferenceMs.toFixed(0)} ms per request`,
  );
  return result;
}
