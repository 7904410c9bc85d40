/**
 * A worker's resident memory over many requests: a server of its own with one worker, driven with small
 * real compiles (`-c -O0 -fforce-recomp`, cycling over a small synthetic project) through the in-process
 * client, and the worker's resident memory read from the server's status (and its peak from
 * /proc/PID/status) at the checkpoints. The server's request limit (`--max-requests`, by default 2,000)
 * is set past the last checkpoint, so one worker serves every request and each reading is of it.
 *
 * @module
 */

import {
  inProcessGhcpw,
  serverStatus,
  serverTotals,
  troubleBetween,
  type WorkerStatus,
} from "./in_process.ts";
import type { SmallProject } from "./overhead.ts";
import { mib } from "../../lib/server/status.ts";
import { progress } from "./process.ts";
import { type RunningServer, startServer, stopServer } from "./server.ts";

/** One reading. */
export interface MemoryReading {
  /** The checkpoint asked for. */
  checkpoint: number;
  /** Requests the worker had served when read (its own count). */
  requests: number;
  pid: number;
  rssBytes: number | null;
  /** The worker's peak resident memory so far (VmHWM), if readable. */
  peakBytes: number | null;
  /** The server process's own resident memory. */
  serverRssBytes: number | null;
}

/** What {@linkcode measureWorkerMemory} found. */
export interface MemoryResult {
  readings: MemoryReading[];
  request: string;
  /** What the server's status counted as going wrong (errors, worker failures, ...). */
  problems: string[];
}

/** A field of /proc/PID/status in bytes (`VmHWM:   123 kB`), or null. */
async function procStatusBytes(pid: number, field: string): Promise<number | null> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Drives requests through a one-worker server and reads the worker's memory at each checkpoint. */
export async function measureWorkerMemory(options: {
  /** Where the measurement's own server listens. */
  socket: string;
  project: SmallProject;
  ghc: string;
  ghcpwMain: string;
  checkpoints: number[];
  verbose: boolean;
  /** Called with the server once it runs, so an interrupted benchmark can stop it. */
  started?: (server: RunningServer) => void;
}): Promise<MemoryResult> {
  const { ghc, project } = options;
  const checkpoints = [...new Set(options.checkpoints)].sort((a, b) => a - b);
  const last = checkpoints.at(-1)!;
  progress(`[worker memory] up to ${last} requests through a server with one worker, in ${project.dir}`);
  const server = await startServer(options.ghcpwMain, ghc, options.socket, 1, options.verbose, [
    "--max-requests",
    String(last + 1),
  ]);
  options.started?.(server);
  const readings: MemoryReading[] = [];
  try {
    const read = async (checkpoint: number) => {
      const status = await serverStatus(server.socket);
      const workers = status.workers as WorkerStatus[];
      if (workers.length !== 1) throw new Error(`expected one worker, the server reports ${workers.length}`);
      const [w] = workers;
      const reading: MemoryReading = {
        checkpoint,
        requests: w.requests,
        pid: w.pid,
        rssBytes: w.rssBytes,
        peakBytes: await procStatusBytes(w.pid, "VmHWM"),
        serverRssBytes: typeof status.rssBytes === "number" ? status.rssBytes : null,
      };
      readings.push(reading);
      progress(
        `    after ${reading.requests} requests: worker ${reading.pid} ${mib(reading.rssBytes)} resident ` +
          `(peak ${mib(reading.peakBytes)}), server ${mib(reading.serverRssBytes)}`,
      );
    };
    const before = await serverTotals(server.socket);
    const started = performance.now();
    for (let i = 1; i <= last; i++) {
      const a = project.args[(i - 1) % project.args.length];
      const r = await inProcessGhcpw(server.socket, ghc, a, project.dir);
      if (r.code !== 0) {
        throw new Error(`request ${i} (${a.at(-1)}) exited with ${r.code}:\n${r.stdout}${r.stderr}`);
      }
      const rate = i / ((performance.now() - started) / 1000);
      // A line overwritten in place on a terminal, and every hundredth request in a log.
      progress(`    ${i}/${last} requests (${rate.toFixed(1)}/s)`, i % 100 !== 0);
      if (checkpoints.includes(i)) await read(i);
    }
    const problems = troubleBetween(before, await serverTotals(server.socket));
    return { readings, request: project.request, problems };
  } finally {
    await stopServer(server);
  }
}
