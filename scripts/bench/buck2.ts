/**
 * The per-compile overhead of Buck2's worker path (`ghcpw buck2`) against `ghcpw ghc` and cold ghc, on the
 * same per-module build: the small synthetic project of the benchmark (scripts/bench/overhead.ts), each
 * module recompiled with `-c -O0 -fforce-recomp` in dependency order, round after round. Each module is
 * compiled three ways back to back (in rotating order, so drift in the machine's load hits all three
 * alike):
 *
 * - cold: a `ghc -c` process;
 * - ghcpw ghc: a `ghcpw ghc --` process (what Buck2 starts per action with ghcpw as the compiler wrapper);
 * - buck2 worker: an Execute call to one `ghcpw buck2` process started once for the run, as Buck2 starts a
 *   worker per build command, from a gRPC client with one connection, as Buck2 keeps one (Connect's gRPC
 *   transport over node:http2; the test suite's client is Debian's python3-grpcio).
 *
 * Both ghcpw paths use one `ghcpw serve -n 1`; the server's status says how long its GHC process spent on
 * each compile, and a path's overhead is its wall time minus that. Prints a Markdown table and the
 * ratios, from one run.
 *
 *   deno run -A scripts/bench/buck2.ts [--rounds N] [--ghc GHC] [--keep]
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as net from "node:net";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExecuteCommandSchema, WorkerService } from "../../lib/buck2/protocol.ts";
import { chooseGhc } from "../../lib/ghc/installation.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { serverTotals, troubleBetween } from "./in_process.ts";
import { smallProject } from "./overhead.ts";
import { cpuTimes, loadAverage, mean, median, progress, stealPercent, type Timed } from "./process.ts";
import { coldRunner, GHCPW_MAIN, ghcpwRunner, startServer, stopServer } from "./server.ts";

export const BUCK2_BENCH_HELP = `buck2.ts: per-compile overhead of ghcpw's Buck2 worker path

Usage: deno run -A scripts/bench/buck2.ts [OPTIONS]

Recompiles each module of a small synthetic project (-c -O0 -fforce-recomp,
in dependency order) three ways, back to back: a cold 'ghc -c' process, a
'ghcpw ghc --' process, and an Execute call to one 'ghcpw buck2' worker
started for the run (as Buck2 does per build command), both ghcpw paths on
one 'ghcpw serve -n 1'. Prints mean and median wall time per compile, the
server's own time per compile, the overhead (wall minus server time) and the
ratios between the paths.

Options:
  --rounds N    times each module is compiled each way (default 5)
  --ghc PATH    the ghc to measure (default: $GHCPW_GHC, else ghc on PATH)
  --keep        keep the temporary directory
  -h, --help    show this help
`;

type Path = "cold" | "ghcpw ghc" | "buck2 worker";
const PATHS: Path[] = ["cold", "ghcpw ghc", "buck2 worker"];

/** What one path measured over the run; times in ms. */
interface PathResult {
  walls: number[];
  /** The server's own time per compile (the ghcpw paths). */
  workerMs: number[];
}

/** A `ghcpw buck2` process and a gRPC client connected to it. */
interface Buck2Worker {
  child: Deno.ChildProcess;
  client: Client<typeof WorkerService>;
  /** Spawn to accepting connections, in ms. */
  startMs: number;
}

const encoder = new TextEncoder();

/** Starts `ghcpw buck2` in `cwd` as Buck2 would, on the ghcpw server at `socket`, and connects to it. */
async function startWorker(ghc: string, socket: string, cwd: string, dir: string): Promise<Buck2Worker> {
  const listen = `${dir}/worker.sock`;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", GHCPW_MAIN, "buck2", "--socket", socket, "--ghc", ghc, "-q"],
    cwd,
    env: { WORKER_SOCKET: listen, GHCPW_STRICT: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (;;) {
    try {
      (await Deno.connect({ transport: "unix", path: listen })).close();
      break;
    } catch {
      if (performance.now() - started > 60_000) {
        await killAndWait(child);
        throw new Error("ghcpw buck2 did not listen within 60 s");
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const startMs = performance.now() - started;
  const transport = createGrpcTransport({
    baseUrl: "http://localhost",
    nodeOptions: { createConnection: () => net.connect(listen) },
  });
  return { child, client: createClient(WorkerService, transport), startMs };
}

/** One Execute call, timed from request to response. */
async function execute(worker: Buck2Worker, args: string[]): Promise<Timed> {
  const started = performance.now();
  const response = await worker.client.execute(
    create(ExecuteCommandSchema, { argv: args.map((a) => encoder.encode(a)) }),
  );
  return { ms: performance.now() - started, code: response.exitCode, stdout: "", stderr: response.stderr };
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** The report: a table per path, and the ratios the issue asks for. */
function report(results: Record<Path, PathResult>, workerStartMs: number, context: string): string {
  const overhead = (p: Path) => mean(results[p].walls) - mean(results[p].workerMs);
  const rows = PATHS.map((p) => {
    const r = results[p];
    const own = r.workerMs.length > 0 ? ms(mean(r.workerMs)) : "—";
    const over = r.workerMs.length > 0 ? ms(overhead(p)) : "—";
    return `| ${p} | ${r.walls.length} | ${ms(mean(r.walls))} | ${ms(median(r.walls))} | ${own} | ${over} |`;
  });
  const cold = mean(results.cold.walls);
  const viaGhc = mean(results["ghcpw ghc"].walls);
  const viaWorker = mean(results["buck2 worker"].walls);
  return [
    context,
    "",
    "| path | compiles | mean wall | median wall | server's own time (mean) | overhead (wall − own) |",
    "| ---- | -------- | --------- | ----------- | ------------------------ | --------------------- |",
    ...rows,
    "",
    `Ratios of mean wall time per compile: cold / buck2 worker ${ratio(cold, viaWorker)}, ` +
    `ghcpw ghc / buck2 worker ${ratio(viaGhc, viaWorker)}, cold / ghcpw ghc ${ratio(cold, viaGhc)}.`,
    `Overhead per compile, ghcpw ghc / buck2 worker: ${
      ratio(overhead("ghcpw ghc"), overhead("buck2 worker"))
    } ` +
    `(${ms(overhead("ghcpw ghc"))} against ${ms(overhead("buck2 worker"))}).`,
    `The worker's start (spawn to listening, once per Buck2 command): ${ms(workerStartMs)}.`,
  ].join("\n");
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "5" },
      ghc: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(BUCK2_BENCH_HELP);
    return 0;
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds needs a positive whole number`);
  const ghc = chooseGhc(values.ghc);
  const tmp = await Deno.makeTempDir({ prefix: "ghcpw-bench-buck2-" });
  const socket = `${tmp}/ghcpw.sock`;
  progress(`[buck2 bench] in ${tmp}, load average ${loadAverage()}`);
  const project = await smallProject(`${tmp}/small`, ghc);
  const server = await startServer(GHCPW_MAIN, ghc, socket, 1, false);
  let worker: Buck2Worker | null = null;
  try {
    worker = await startWorker(ghc, socket, project.dir, tmp);
    const w = worker;
    const runners: Record<Path, (a: string[]) => Promise<Timed>> = {
      cold: (a) => coldRunner(ghc)(a, project.dir),
      "ghcpw ghc": (a) => ghcpwRunner(GHCPW_MAIN, ghc, socket)(a, project.dir),
      "buck2 worker": (a) => execute(w, a),
    };
    // Uncounted: the first compile of each ghcpw path warms the server's GHC process and the worker.
    for (const p of PATHS) check(p, project.args[0], await runners[p](project.args[0]));
    const results: Record<Path, PathResult> = {
      cold: { walls: [], workerMs: [] },
      "ghcpw ghc": { walls: [], workerMs: [] },
      "buck2 worker": { walls: [], workerMs: [] },
    };
    const first = await serverTotals(socket);
    const cpuBefore = cpuTimes();
    let turn = 0;
    for (let round = 0; round < rounds; round++) {
      for (const a of project.args) {
        const order = PATHS.map((_, i) => PATHS[(i + turn) % PATHS.length]);
        turn++;
        for (const p of order) {
          const before = p === "cold" ? null : await serverTotals(socket);
          const r = check(p, a, await runners[p](a));
          results[p].walls.push(r.ms);
          if (before !== null) {
            results[p].workerMs.push((await serverTotals(socket)).workerMs - before.workerMs);
          }
        }
        progress(`    round ${round + 1}/${rounds} ${a.at(-1)}`, true);
      }
    }
    const trouble = troubleBetween(first, await serverTotals(socket));
    if (trouble.length > 0) {
      throw new Error(`not every compile was served by a worker: ${trouble.join(", ")}`);
    }
    const context =
      `Per-module build of the small synthetic project (${project.request}), ${rounds} rounds, ` +
      `ghc ${ghc}; load average after: ${loadAverage()}; CPU taken by the hypervisor: ` +
      `${stealPercent(cpuBefore, cpuTimes())}.`;
    console.log(report(results, worker.startMs, context));
    return 0;
  } finally {
    if (worker !== null) await killAndWait(worker.child, { signal: "SIGTERM" });
    await stopServer(server);
    if (!values.keep) await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Fails with the output of a compile that did not succeed. */
function check(path: Path, args: string[], r: Timed): Timed {
  if (r.code !== 0) {
    throw new Error(`${path}: ghc ${args.join(" ")} exited with ${r.code}:\n${r.stdout}${r.stderr}`);
  }
  return r;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`buck2.ts: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
