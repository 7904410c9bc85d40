/**
 * The pool of GHC workers: a fixed number of processes, one request at a time each, requests queued in
 * arrival order while all are busy. A worker that dies or breaks the protocol is replaced; a request it
 * was serving is retried once on a fresh worker if none of its output had been forwarded yet.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type OutputSink, TrackingSink } from "./output.ts";
import { Worker, WorkerFailure, type WorkerOutcome, type WorkerRequest, type WorkerSpec } from "./worker.ts";

const log = getLogger(["ghcpw", "pool"]);

/** Counters for status reports and tests. */
export interface PoolStats {
  requests: number;
  workerFailures: number;
  retries: number;
  workersStarted: number;
  /** Workers replaced because shared libraries they had loaded changed on disk. */
  staleRecycles: number;
}

/** A fixed-size pool of workers started from one spec. */
export class Pool {
  readonly size: number;
  readonly stats: PoolStats = { requests: 0, workerFailures: 0, retries: 0, workersStarted: 0, staleRecycles: 0 };
  #spec: WorkerSpec;
  #idle: Worker[] = [];
  #waiting: Array<(w: Worker | Error) => void> = [];
  #starting = 0;
  #all = new Set<Worker>();
  #closed = false;

  constructor(spec: WorkerSpec, size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`pool size must be a positive integer, got ${size}`);
    }
    this.#spec = spec;
    this.size = size;
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

  /** Runs a request on the next free worker; aborting `signal` kills that worker (it is replaced). */
  async run(request: WorkerRequest, sink: OutputSink, signal?: AbortSignal): Promise<WorkerOutcome> {
    this.stats.requests++;
    const tracked = new TrackingSink(sink);
    for (let attempt = 0;; attempt++) {
      signal?.throwIfAborted();
      const worker = await this.#acquire();
      const cancel = () => worker.kill();
      signal?.addEventListener("abort", cancel, { once: true });
      try {
        const outcome = await worker.run(request, tracked);
        this.#release(worker);
        return outcome;
      } catch (e) {
        await this.#discard(worker);
        signal?.throwIfAborted();
        if (!(e instanceof WorkerFailure)) throw e;
        this.stats.workerFailures++;
        log.warn("Worker {pid} failed: {error}", { pid: worker.pid, error: e.message });
        if (attempt > 0 || tracked.written) throw e;
        this.stats.retries++;
      } finally {
        signal?.removeEventListener("abort", cancel);
      }
    }
  }

  /** Stops all workers; queued requests are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const resolve of this.#waiting.splice(0)) resolve(new WorkerFailure("the server is shutting down"));
    await Promise.all([...this.#all].map((w) => w.close()));
  }

  async #acquire(): Promise<Worker> {
    for (;;) {
      if (this.#closed) throw new WorkerFailure("the server is shutting down");
      const idle = this.#idle.pop();
      if (idle?.alive && await this.#fresh(idle)) return idle;
      if (idle) {
        await this.#discard(idle);
        continue;
      }
      if (this.#all.size + this.#starting < this.size) this.#spawnInBackground();
      const worker = await new Promise<Worker | Error>((resolve) => this.#waiting.push(resolve));
      if (worker instanceof Error) throw worker;
      if (worker.alive && await this.#fresh(worker)) return worker;
      await this.#discard(worker);
    }
  }

  /** Whether a worker may serve again: false (and counted) if libraries it loaded changed on disk. */
  async #fresh(worker: Worker): Promise<boolean> {
    const stale = await worker.staleLibraries();
    if (stale.length === 0) return true;
    this.stats.staleRecycles++;
    log.info("Replacing worker {pid}: libraries it loaded changed on disk ({libraries})", {
      pid: worker.pid,
      libraries: stale.join(", "),
    });
    return false;
  }

  #release(worker: Worker): void {
    const next = this.#waiting.shift();
    if (next) next(worker);
    else this.#idle.push(worker);
  }

  async #discard(worker: Worker): Promise<void> {
    this.#all.delete(worker);
    await worker.kill();
    if (!this.#closed && this.#waiting.length > 0) this.#spawnInBackground();
  }

  async #spawn(): Promise<Worker> {
    this.#starting++;
    try {
      const worker = await Worker.start(this.#spec);
      this.stats.workersStarted++;
      this.#all.add(worker);
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
        this.#waiting.shift()?.(e instanceof Error ? e : new WorkerFailure(String(e)));
      },
    );
  }
}
