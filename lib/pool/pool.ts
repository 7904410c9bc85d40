/**
 * The pool of GHC workers: a fixed number of processes, one request at a time each, requests queued in
 * arrival order while all are busy. Each request carries an affinity (what the worker's kept state
 * depends on, see lib/compile/compile.ts); an idle worker that last served the same affinity is preferred, so
 * requests meet warm state that fits them. Correctness never depends on that choice: a worker checks
 * every request against its cache itself.
 *
 * Workers are replaced when they die or break the protocol (a request that printed nothing yet is
 * retried once on a fresh worker, unless the request itself ended its worker), when libraries they loaded
 * change on disk, when a request left something running in them that they could not stop, and after a
 * number of requests or above a resident memory limit.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type OutputSink, TrackingSink } from "../output.ts";
import type { WorkerRequest } from "../wire/worker_protocol.ts";
import { Worker, WorkerFailure, type WorkerOutcome } from "./worker.ts";
import { spawnWorkerProcess, type StartWorkerProcess, type WorkerSpec } from "./worker_process.ts";
import { addTime, timed, type TimeSums } from "../time_sums.ts";
import { requestDirsRemoved } from "./request_dir.ts";

const log = getLogger(["ghcpw", "pool"]);

/** Requests a worker serves before it is replaced (bounds any slow growth of kept state). */
export const DEFAULT_MAX_REQUESTS = 2000;

/**
 * Resident memory above which a worker is replaced after its request, in bytes: half as much again as the
 * most a worker held building real libraries at -O0 and -O2 (988 MiB on GHC 9.6, 507 MiB on 9.0;
 * scripts/memory.ts, figures in README's "Recycling").
 */
export const DEFAULT_MAX_RSS_BYTES = 1.5 * 1024 ** 3;

/** When the pool replaces a worker that is still healthy (defaults above). */
export interface RecycleLimits {
  maxRequests?: number;
  maxRssBytes?: number;
}

/** How the pool is sized and when it replaces workers. */
export interface PoolOptions extends RecycleLimits {
  size: number;
  /** How worker processes are started (default: ghc itself; tests give a stand-in). */
  startProcess?: StartWorkerProcess;
}

/** Why a worker was replaced. */
export type RecycleReason = "requests" | "memory" | "stale-libraries" | "leftovers" | "failure" | "cancelled";

/** Counters for status reports and tests. */
export interface PoolStats {
  requests: number;
  /** Requests that started from interfaces a worker kept from earlier requests. */
  warmHits: number;
  workerFailures: number;
  retries: number;
  workersStarted: number;
  /**
   * Wall time workers spent on requests, from handing one over to its Exit (ms, summed): what a request
   * costs in GHC itself, so that a client's own overhead is its wall time minus this.
   */
  workerMs: number;
  /** The workers' own account of that time, summed by stage (see lib/plugin/Ghcpw/Stages.hs). */
  stagesMs: TimeSums;
  /** How much of the stages' time went to the workers' garbage collection (ms, summed). */
  gcMs: number;
  /**
   * The pool's own time around requests, summed: `queue`, waiting for a free worker; `checks`, checking
   * a worker's loaded libraries and memory before and after a request.
   */
  poolMs: TimeSums;
  recycled: Record<RecycleReason, number>;
  lastRecycle?: { pid: number; reason: RecycleReason; detail: string; stderrTail?: string[]; at?: number };
}

/** A fixed-size pool of workers started from one spec. */
export class Pool {
  readonly size: number;
  readonly maxRequests: number;
  readonly maxRssBytes: number;
  readonly stats: PoolStats = {
    requests: 0,
    warmHits: 0,
    workerFailures: 0,
    retries: 0,
    workersStarted: 0,
    workerMs: 0,
    stagesMs: {},
    gcMs: 0,
    poolMs: {},
    recycled: { requests: 0, memory: 0, "stale-libraries": 0, leftovers: 0, failure: 0, cancelled: 0 },
  };
  #spec: WorkerSpec;
  #startProcess: StartWorkerProcess;
  #idle: Worker[] = [];
  #waiting: Array<{ affinity: string; resolve: (w: Worker | Error) => void }> = [];
  #starting = 0;
  #all = new Set<Worker>();
  #closed = false;
  /** Reasons of recycles whose replacements have not started yet, oldest first (for status). */
  #pendingReasons: string[] = [];
  #replaced = new WeakMap<Worker, string>();

  constructor(spec: WorkerSpec, options: PoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new RangeError(`pool size must be a positive integer, got ${options.size}`);
    }
    this.#spec = spec;
    this.#startProcess = options.startProcess ?? spawnWorkerProcess;
    this.size = options.size;
    this.maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
    this.maxRssBytes = options.maxRssBytes ?? DEFAULT_MAX_RSS_BYTES;
  }

  /** Starts every worker, so the first requests find them ready; fails if the first one cannot start. */
  async start(): Promise<void> {
    const first = await this.#spawn();
    this.#release(first);
    for (let i = 1; i < this.size; i++) this.#spawnInBackground();
  }

  /** The live workers, for status reports. */
  get workers(): Worker[] {
    return [...this.#all];
  }

  /** Whether a worker is waiting for a request (otherwise it is serving one), for status reports. */
  isIdle(worker: Worker): boolean {
    return this.#idle.includes(worker);
  }

  /** Why the worker that `worker` replaced was recycled ("reason: detail"); null for an original one. */
  recycleReasonOf(worker: Worker): string | null {
    return this.#replaced.get(worker) ?? null;
  }

  /**
   * Runs a request on a free worker, preferring one whose last request had the same `affinity`.
   * Aborting `signal` kills that worker (it is replaced).
   */
  async run(
    request: WorkerRequest,
    sink: OutputSink,
    signal?: AbortSignal,
    affinity = "",
  ): Promise<WorkerOutcome> {
    this.stats.requests++;
    const tracked = new TrackingSink(sink);
    for (let attempt = 0;; attempt++) {
      signal?.throwIfAborted();
      const worker = await this.#acquire(affinity, request.cwd);
      if (signal?.aborted) {
        // The client left (or the timeout passed) while the request waited in the queue.
        this.#release(worker);
        signal.throwIfAborted();
      }
      worker.affinity = affinity;
      const cancel = () => worker.kill();
      signal?.addEventListener("abort", cancel, { once: true });
      const started = performance.now();
      try {
        const outcome = await worker.run(request, tracked);
        this.stats.workerMs += performance.now() - started;
        if (outcome.kind === "exit") {
          if (outcome.interfacesResumed > 0) this.stats.warmHits++;
          for (const [stage, ms] of Object.entries(outcome.stagesMs)) addTime(this.stats.stagesMs, stage, ms);
          this.stats.gcMs += outcome.gcMs ?? 0;
        }
        // The answer does not wait for the checks: the worker rejoins the pool once they are done.
        this.#afterRequestInBackground(worker, request, outcome);
        return outcome;
      } catch (e) {
        await this.#recycle(worker, signal?.aborted ? "cancelled" : "failure", String(e));
        signal?.throwIfAborted();
        if (!(e instanceof WorkerFailure)) throw e;
        this.stats.workerFailures++;
        log.warn("Worker {pid} failed: {error}", { pid: worker.pid, error: e.message });
        // Retried only where another worker may well succeed: nothing was printed yet, and the worker was
        // killed from outside, not ended by the request itself.
        if (attempt > 0 || tracked.written || e.causedByRequest) throw e;
        this.stats.retries++;
      } finally {
        signal?.removeEventListener("abort", cancel);
      }
    }
  }

  /** Stops all workers; queued requests are refused. Ends once their requests' directories are gone. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.resolve(new WorkerFailure("the server is shutting down"));
    await Promise.all([...this.#all].map((w) => w.close()));
    await requestDirsRemoved();
  }

  async #acquire(affinity: string, cwd: string): Promise<Worker> {
    for (;;) {
      if (this.#closed) throw new WorkerFailure("the server is shutting down");
      const match = this.#idle.findIndex((w) => w.affinity === affinity);
      const [idle] = this.#idle.splice(match >= 0 ? match : this.#idle.length - 1, 1);
      if (idle) {
        if (await timed(this.stats.poolMs, "checks", () => this.#usable(idle, cwd))) return idle;
        continue;
      }
      if (this.#all.size + this.#starting < this.size) this.#spawnInBackground();
      const worker = await timed(
        this.stats.poolMs,
        "queue",
        () => new Promise<Worker | Error>((resolve) => this.#waiting.push({ affinity, resolve })),
      );
      if (worker instanceof Error) throw worker;
      if (await timed(this.stats.poolMs, "checks", () => this.#usable(worker, cwd))) return worker;
    }
  }

  /**
   * Whether a worker may serve a request in `cwd` now; one that died, whose libraries went stale, or that
   * holds libraries of another working directory's tree is replaced.
   */
  async #usable(worker: Worker, cwd: string): Promise<boolean> {
    if (!worker.alive) {
      const tail = worker.stderrTail;
      log.warn("Worker {pid} exited while idle{tail}", {
        pid: worker.pid,
        // One line per log record: the lines are joined, not broken.
        tail: tail.length > 0
          ? `; its last stderr lines: ${tail.join(" | ")}`
          : " (it wrote nothing to stderr)",
      });
      await this.#recycle(worker, "failure", "exited while idle");
      return false;
    }
    const stale = worker.staleLibraries();
    if (stale.length > 0) {
      await this.#recycle(worker, "stale-libraries", stale.join(", "));
      return false;
    }
    const elsewhere = worker.librariesOutside(cwd);
    if (elsewhere === null) return true;
    await this.#recycle(worker, "stale-libraries", `it loaded libraries of ${elsewhere}, not of ${cwd}`);
    return false;
  }

  #afterRequestInBackground(worker: Worker, request: WorkerRequest, outcome: WorkerOutcome): void {
    timed(this.stats.poolMs, "checks", () => this.#afterRequest(worker, request, outcome)).catch(
      async (e) => {
        log.warn("Checking worker {pid} after a request failed: {error}", {
          pid: worker.pid,
          error: String(e),
        });
        await this.#recycle(worker, "failure", `checking it after a request failed: ${e}`).catch(() => {});
      },
    );
  }

  /**
   * Records what a worker has loaded after a request, then returns it to the pool, or replaces it if its
   * request left something running in it, or it has served enough or grew too large.
   */
  async #afterRequest(worker: Worker, request: WorkerRequest, outcome: WorkerOutcome): Promise<void> {
    if (outcome.kind === "exit" && outcome.leftovers !== undefined) {
      await this.#recycle(worker, "leftovers", outcome.leftovers);
      return;
    }
    await worker.recordLibraries(request.tmpDir, request.cwd);
    if (worker.requestsServed >= this.maxRequests) {
      await this.#recycle(worker, "requests", `${worker.requestsServed} requests served`);
      return;
    }
    const rss = await worker.residentBytes();
    if (rss !== null && rss > this.maxRssBytes) {
      await this.#recycle(worker, "memory", `resident memory ${Math.round(rss / 2 ** 20)} MiB`);
      return;
    }
    this.#release(worker);
  }

  #release(worker: Worker): void {
    // A waiting request of the same affinity goes first; otherwise the longest-waiting one.
    const match = this.#waiting.findIndex((w) => w.affinity === worker.affinity);
    const [next] = this.#waiting.splice(match >= 0 ? match : 0, 1);
    if (next) next.resolve(worker);
    else this.#idle.push(worker);
  }

  async #recycle(worker: Worker, reason: RecycleReason, detail: string): Promise<void> {
    this.stats.recycled[reason]++;
    this.stats.lastRecycle = {
      pid: worker.pid,
      reason,
      detail,
      stderrTail: worker.stderrTail,
      at: Date.now(),
    };
    this.#pendingReasons.push(`${reason}: ${detail.split("\n")[0]}`);
    if (reason !== "failure" && reason !== "cancelled") {
      log.info("Replacing worker {pid} ({reason}: {detail})", { pid: worker.pid, reason, detail });
    }
    this.#all.delete(worker);
    await worker.kill();
    if (!this.#closed && this.#all.size + this.#starting < this.size) {
      this.#spawnInBackground();
    }
  }

  async #spawn(): Promise<Worker> {
    this.#starting++;
    try {
      const worker = await Worker.start(this.#spec, this.#startProcess);
      this.stats.workersStarted++;
      this.#all.add(worker);
      const replaced = this.#pendingReasons.shift();
      if (replaced !== undefined) this.#replaced.set(worker, replaced);
      return worker;
    } finally {
      this.#starting--;
    }
  }

  #spawnInBackground(): void {
    this.#spawn().then(
      (w) => this.#closed ? w.kill() : this.#release(w),
      (e) => {
        log.error("Cannot start a GHC worker: {error}", { error: e instanceof Error ? e.message : e });
        // One waiting request fails with the reason rather than waiting for a worker that will not come.
        this.#waiting.shift()?.resolve(e instanceof Error ? e : new WorkerFailure(String(e)));
      },
    );
  }
}
