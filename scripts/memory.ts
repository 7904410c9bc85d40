/**
 * A worker's memory over a few hundred compiles of real libraries: Debian's sources (scripts/real_library/)
 * built module by module with `-c` at each optimisation level through one server with one worker, reading
 * after every request the worker's resident memory (/proc), its live heap and the heap the RTS holds (the
 * worker's own report, `+RTS -T`), and the interface sets it keeps. Each build of a library gets an empty
 * package database of its own, as cabal's in-place database, so each (library, level) is an interface key
 * of its own, as in a real build of many packages.
 *
 * Not part of the suites (it takes long: -O2 builds of vector and aeson). Run
 * `deno run -A scripts/memory.ts --help` for the options; e.g.
 * `deno run -A scripts/memory.ts --out memory.jsonl` (the figures in README's "Recycling").
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ghcIsDynamic, prepareRealLibrary, type RealLibrary } from "./real_library/library.ts";
import { inspectGhc } from "../lib/ghc/installation.ts";
import { inProcessGhcpw, serverStatus } from "./bench/in_process.ts";
import { GHCPW_MAIN, type RunningServer, startServer, stopServer } from "./bench/server.ts";
import { loadAverage, progress } from "./bench/process.ts";
import { mib } from "../lib/server/status.ts";
import type { WorkerHoldings } from "../lib/pool/worker.ts";

const HELP = `memory.ts: a worker's memory over real-library compiles through one server

Usage: deno run -A scripts/memory.ts [OPTIONS]

Options:
  --ghc PATH        the ghc to serve (default: $GHCPW_TEST_GHC or ghc)
  --libs A,B,...    Debian libraries to build, in this order (default: primitive,vector,aeson,generics-sop)
  --levels L,...    optimisation levels, each a build of every library (default: O0,O2)
  --serve-arg ARG   an argument for ghcpw serve (repeatable), e.g. --serve-arg=--max-rss=1G;
                    by default no worker is recycled for requests or memory during the run
  --out FILE        write one JSON line per request to FILE
  -h, --help        show this help

Prints a line per request and a table per build: resident memory, live heap and RTS heap at the end
and at most, and the kept interface sets.`;

/** One reading, after one request. */
interface Reading {
  request: number;
  library: string;
  level: string;
  file: string;
  ms: number;
  pid: number;
  rssBytes: number | null;
  heapLiveBytes: number | null;
  heapBytes: number | null;
  /** Time the worker spent collecting its heap after the request (0 if it did not). */
  collectedMs: number;
  interfaceSets: number;
  interfacesKept: number;
  recycled: number;
}

/** A worker as `ghcpw status` reports it. */
type Worker = WorkerHoldings & { pid: number; rssBytes: number | null };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ghc: { type: "string", default: Deno.env.get("GHCPW_TEST_GHC") || "ghc" },
      libs: { type: "string", default: "primitive,vector,aeson,generics-sop" },
      levels: { type: "string", default: "O0,O2" },
      "serve-arg": { type: "string", multiple: true, default: [] },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const ghc = values.ghc!;
  const libraries: RealLibrary[] = [];
  for (const name of values.libs!.split(",")) libraries.push(await prepareRealLibrary(name, { ghc }));
  const { ghcPkg } = await inspectGhc(ghc);
  const levels = values.levels!.split(",").map((l) => `-${l.replace(/^-/, "")}`);
  // One-shot Template Haskell on a dynamically linked GHC needs the dynamic objects too.
  const dynamic = await ghcIsDynamic(ghc) ? ["-dynamic-too"] : [];
  const root = await Deno.makeTempDir({ prefix: "ghcpw-memory-" });
  const out = values.out ? await Deno.open(values.out, { write: true, create: true, truncate: true }) : null;
  progress(`[memory] GHC ${libraries[0].ghcVersion}, trees in ${root}, load ${loadAverage()}`);
  let server: RunningServer | null = null;
  const readings: Reading[] = [];
  try {
    server = await startServer(GHCPW_MAIN, ghc, `${root}/ghcpw.sock`, 1, false, [
      "--max-requests",
      "1000000",
      "--max-rss",
      "1T",
      ...values["serve-arg"]!,
    ]);
    for (const level of levels) {
      for (const lib of libraries) {
        const tree = `${root}/${lib.name}${level}`;
        await copyTree(lib.dir, tree);
        const db = await ownPackageDb(ghcPkg, tree);
        for (const step of lib.steps) {
          const args = step.module === null
            ? ["-c", ...lib.cSourceFlags, step.file]
            : ["-c", ...lib.flags, "-package-db", db, level, ...dynamic, step.file];
          const r = await inProcessGhcpw(server.socket, ghc, args, tree);
          if (r.code !== 0) throw new Error(`${lib.name} ${level} ${step.file} failed:\n${r.stderr}`);
          const status = await serverStatus(server.socket);
          const [w] = status.workers as Worker[];
          // deno-lint-ignore no-explicit-any
          const pool = status.pool as any;
          const reading: Reading = {
            request: readings.length + 1,
            library: lib.name,
            level,
            file: step.file,
            ms: Math.round(r.ms),
            pid: w.pid,
            rssBytes: w.rssBytes,
            heapLiveBytes: w.heap?.liveBytes ?? null,
            heapBytes: w.heap?.bytes ?? null,
            collectedMs: w.heap?.collectedMs ?? 0,
            interfaceSets: w.interfaceSets,
            interfacesKept: w.interfaces,
            recycled: Object.values(pool.recycled as Record<string, number>).reduce((a, n) => a + n, 0),
          };
          readings.push(reading);
          await out?.write(new TextEncoder().encode(JSON.stringify(reading) + "\n"));
          const collected = reading.collectedMs ? ` (collected in ${reading.collectedMs} ms)` : "";
          const recycled = reading.recycled ? `, ${reading.recycled} recycled` : "";
          progress(
            `  ${reading.request} ${lib.name} ${level} ${step.file}: ${reading.ms} ms, ` +
              `rss ${mib(reading.rssBytes)}, live ${mib(reading.heapLiveBytes)}, ` +
              `heap ${mib(reading.heapBytes)}${collected}, ` +
              `sets ${reading.interfaceSets} (${reading.interfacesKept} interfaces)${recycled}`,
          );
        }
      }
    }
  } finally {
    if (server) await stopServer(server);
    out?.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  console.log(summary(readings));
}

/**
 * A Markdown table: per build, the readings at its end and the highest during it, its compile time (the
 * client's wall time per request, summed) and the collections the worker made after requests.
 */
function summary(readings: Reading[]): string {
  const builds = [...new Set(readings.map((r) => `${r.library} ${r.level}`))];
  const max = (rs: Reading[], f: (r: Reading) => number | null) => Math.max(...rs.map((r) => f(r) ?? 0));
  const sum = (rs: Reading[], f: (r: Reading) => number) => rs.reduce((a, r) => a + f(r), 0);
  const lines = [
    "| build | requests | time | collections (time) | RSS end / max | live heap end / max | RTS heap end / max | interface sets (interfaces) | recycled |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const build of [...builds, "all"]) {
    const rs = build === "all" ? readings : readings.filter((r) => `${r.library} ${r.level}` === build);
    const end = rs.at(-1)!;
    const collections = rs.filter((r) => r.collectedMs > 0);
    lines.push(
      `| ${build} | ${end.request} | ${(sum(rs, (r) => r.ms) / 1000).toFixed(1)} s | ${collections.length} ` +
        `(${(sum(collections, (r) => r.collectedMs) / 1000).toFixed(1)} s) | ` +
        `${mib(end.rssBytes)} / ${mib(max(rs, (r) => r.rssBytes))} | ` +
        `${mib(end.heapLiveBytes)} / ${mib(max(rs, (r) => r.heapLiveBytes))} | ` +
        `${mib(end.heapBytes)} / ${mib(max(rs, (r) => r.heapBytes))} | ` +
        `${end.interfaceSets} (${end.interfacesKept}) | ${end.recycled} |`,
    );
  }
  return lines.join("\n");
}

async function copyTree(from: string, to: string): Promise<void> {
  const r = await new Deno.Command("cp", { args: ["-a", `${from}/.`, to] }).output();
  if (!r.success) throw new Error(`copying ${from} failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** An empty package database in the tree, as cabal's in-place one: a build's own interface key. */
async function ownPackageDb(ghcPkg: string, tree: string): Promise<string> {
  const db = `${tree}/package.conf.inplace`;
  const r = await new Deno.Command(ghcPkg, { args: ["init", db] }).output();
  if (!r.success) throw new Error(`ghc-pkg init ${db} failed: ${new TextDecoder().decode(r.stderr)}`);
  return db;
}

if (import.meta.main) await main();
