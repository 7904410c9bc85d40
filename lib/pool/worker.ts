/**
 * One GHC process running ghcpw's frontend plugin, serving one invocation at a time over its pipes
 * (frames as in lib/wire/frame.ts; GHC's own output never touches those pipes, see lib/plugin/Ghcpw/Stdio.hs).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  decodeWorkerMessage,
  encodeToWorker,
  WORKER_PROTOCOL_VERSION,
  type WorkerRequest,
} from "../wire/worker_protocol.ts";
import { ProtocolError } from "../wire/fields.ts";
import { MessageStream } from "../wire/stream.ts";
import {
  changedLibraries,
  librariesUnder,
  type LibrarySnapshot,
  snapshotLibraries,
} from "./loaded_libraries.ts";
import { REQUEST_DIR_PREFIX } from "./request_dir.ts";
import type { OutputSink } from "../output.ts";
import { settledStatus } from "../process/exit_status.ts";
import { killAndWait } from "../process/kill.ts";
import {
  spawnWorkerProcess,
  type StartWorkerProcess,
  type WorkerProcess,
  type WorkerSpec,
} from "./worker_process.ts";
import { withTimeout } from "../timeout.ts";

const log = getLogger(["ghcpw", "worker"]);

/**
 * How a worker finished a request. `interfacesResumed` counts the kept package interfaces the request
 * started with (0 for a cold start); `stagesMs` is the worker's own account of where the request's time
 * went, in ms by stage (lib/plugin/Ghcpw/Stages.hs; empty from a worker that does not report it).
 * `leftovers`, when present, says what the request left running in the worker that the worker could not
 * stop (threads that ignore being killed, or any thread on a GHC that cannot list them; see
 * lib/plugin/Ghcpw/Leftovers.hs): the worker must not serve again. `staleModules`, present after a
 * successful `--make` build, names the modules whose interfaces GHC kept although they record an old
 * module hash of a home module they use (lib/plugin/Ghcpw/Stale.hs).
 */
export type WorkerOutcome =
  | {
    kind: "exit";
    code: number;
    interfacesResumed: number;
    stagesMs: Record<string, number>;
    /** How much of the stages' time the worker's runtime spent collecting garbage (ms); absent if not told. */
    gcMs?: number;
    leftovers?: string;
    staleModules?: string[];
    /**
     * The modules that ran code of the user's while compiled (splices, quasi-quotes, annotations), by
     * name; absent where the worker did not say.
     */
    ranCode?: string[];
    /**
     * After a successful `--make` build, each home module's name and source file as GHC was given it
     * (lib/plugin/Ghcpw/Sources.hs).
     */
    moduleSources?: ModuleSource[];
  }
  | { kind: "defer"; reason: string };

/** A home module of a `--make` build and the source GHC read it from. */
export interface ModuleSource {
  module: string;
  source: string;
}

/** The GHC runtime's own heap statistics of a worker (GHC.Stats), as of its last request's end. */
export interface WorkerHeap {
  /** Live bytes after the last garbage collection. */
  liveBytes: number;
  maxLiveBytes: number;
  /** What the runtime holds for the heap: most of the worker's resident memory. */
  bytes: number;
  collections: number;
  allocatedBytes: number;
  /**
   * What the collection the worker made after its last request took, in ms; null if it made none
   * (lib/plugin/Ghcpw/Memory.hs: only after a request that left the heap much larger).
   */
  collectedMs: number | null;
}

/** What a worker holds after its last request, as it reported it (for `ghcpw status`). */
export interface WorkerHoldings {
  /** Sets of kept interfaces (one per interface key) and the interfaces in all of them. */
  interfaceSets: number;
  interfaces: number;
  /** Units whose interfaces it keeps. */
  packages: string[];
  /** Units whose loaded code its kept linker holds (`--share` with `code`), in the order it loaded them. */
  codePackages: string[];
  /** Null where the worker cannot read its heap statistics (not started with +RTS -T). */
  heap: WorkerHeap | null;
}

/** The holdings in an Exit message's facts (lib/plugin/Ghcpw/Facts.hs). */
export function holdingsOf(facts: Record<string, string>): WorkerHoldings {
  const count = (name: string) => Number(facts[name] ?? 0);
  return {
    interfaceSets: count("interface-sets"),
    interfaces: count("interfaces"),
    packages: (facts.packages ?? "").split(",").filter((p) => p !== ""),
    codePackages: (facts["code-packages"] ?? "").split(",").filter((p) => p !== ""),
    heap: facts["heap-live-bytes"] === undefined ? null : {
      liveBytes: count("heap-live-bytes"),
      maxLiveBytes: count("heap-max-live-bytes"),
      bytes: count("heap-bytes"),
      collections: count("heap-collections"),
      allocatedBytes: count("heap-allocated-bytes"),
      collectedMs: facts["heap-collected-ms"] === undefined ? null : count("heap-collected-ms"),
    },
  };
}

/** A fact of an Exit message that lists module names (separated by commas); undefined where it was not sent. */
function moduleList(facts: Record<string, string>, name: string): string[] | undefined {
  return facts[name]?.split(",").filter((m) => m !== "");
}

/** The `stale-modules` fact of an Exit message (lib/plugin/Ghcpw/Stale.hs), where the worker sent one. */
function staleModulesOf(facts: Record<string, string>): { staleModules?: string[] } {
  const staleModules = moduleList(facts, "stale-modules");
  return staleModules === undefined ? {} : { staleModules };
}

/** The `ran-code` fact of an Exit message (lib/plugin/Ghcpw/RanCode.hs), as an outcome's field. */
function ranCodeOf(facts: Record<string, string>): { ranCode?: string[] } {
  const ranCode = moduleList(facts, "ran-code");
  return ranCode === undefined ? {} : { ranCode };
}

/** The `module-sources` fact of an Exit message (name and source, alternately, separated by NUL). */
function moduleSourcesOf(facts: Record<string, string>): { moduleSources?: ModuleSource[] } {
  const list = facts["module-sources"];
  if (list === undefined) return {};
  const parts = list === "" ? [] : list.split("\0");
  const moduleSources: ModuleSource[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    moduleSources.push({ module: parts[i], source: parts[i + 1] });
  }
  return { moduleSources };
}

/** The `gc-ms` fact of an Exit message (lib/plugin/Ghcpw/Stages.hs), where the worker sent one. */
function gcTimeOf(facts: Record<string, string>): { gcMs?: number } {
  const gcMs = Number(facts["gc-ms"]);
  return facts["gc-ms"] === undefined || !Number.isFinite(gcMs) ? {} : { gcMs };
}

/** The prefix of the Exit facts that carry the stage times. */
const STAGE_FACT = "stage-";

/** The stage times among a worker's Exit facts (`stage-NAME=MS`). */
export function stageTimes(facts: Record<string, string>): Record<string, number> {
  const stages: Record<string, number> = {};
  for (const [key, value] of Object.entries(facts)) {
    const ms = Number(value);
    if (key.startsWith(STAGE_FACT) && Number.isFinite(ms)) stages[key.slice(STAGE_FACT.length)] = ms;
  }
  return stages;
}

/**
 * The worker process died or broke the protocol; it must not be used again. `causedByRequest`: the
 * request it was serving ended or broke it (see {@linkcode Worker.run}), so serving that request on
 * another worker would only do the same.
 */
export class WorkerFailure extends Error {
  override name = "WorkerFailure";
  constructor(message: string, readonly causedByRequest = false) {
    super(message);
  }
}

/**
 * Signals that end a worker from outside — the kernel's OOM killer, an administrator, ghcpw itself — as
 * opposed to those a process raises on itself (SIGSEGV, SIGABRT, ...) or an exit of its own.
 */
const KILLED_FROM_OUTSIDE: ReadonlySet<string> = new Set(["SIGKILL", "SIGTERM"]);

const STDERR_TAIL_LINES = 40;

/** A running worker process. */
export class Worker {
  readonly pid: number;
  readonly ghcVersion: string;
  /** What it keeps between requests, as it said in its greeting (lib/share.ts; "" if it did not say). */
  readonly share: string;
  /** What it held after its last request; null before its first. */
  holdings: WorkerHoldings | null = null;
  requestsServed = 0;
  /** Whether a request is running in the process now (for `ghcpw status`). */
  serving = false;
  /** The affinity of the last request served (see lib/pool/pool.ts). */
  affinity = "";
  #child: WorkerProcess;
  #stream: MessageStream;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;
  #stderr: StderrLog;
  #libraries: LibrarySnapshot = new Map();

  private constructor(
    child: WorkerProcess,
    stream: MessageStream,
    hello: Record<string, string>,
    stderr: StderrLog,
  ) {
    this.#child = child;
    this.#stream = stream;
    this.pid = child.pid;
    this.ghcVersion = hello.ghc ?? "";
    this.share = hello.share ?? "";
    this.#stderr = stderr;
    this.#status = settledStatus(child.status).then(async (s) => {
      // The last lines it wrote say why it died: read them before anyone reports its exit. A process it
      // started may hold the pipe open, so not for long.
      await withTimeout(stderr.done, 200, () => new Error("stderr still open")).catch(() => {});
      this.#exited = true;
      return s;
    });
  }

  /** Starts a worker (a ghc process unless `startProcess` says otherwise) and waits for its greeting. */
  static async start(
    spec: WorkerSpec,
    startProcess: StartWorkerProcess = spawnWorkerProcess,
  ): Promise<Worker> {
    const child = startProcess(spec);
    const stderr = collectStderr(child.stderr, child.pid);
    const stream = new MessageStream(child.stdout, child.stdin);
    const timeout = spec.startTimeoutMs ?? 60_000;
    try {
      const props = await withTimeout(
        Promise.race([
          readGreeting(stream),
          settledStatus(child.status).then((s) => {
            throw new WorkerFailure(`GHC worker exited during start-up (${describeStatus(s)})`);
          }),
        ]),
        timeout,
        () => new WorkerFailure(`GHC worker did not start within ${timeout} ms`),
      );
      if (props.protocol !== String(WORKER_PROTOCOL_VERSION)) {
        throw new WorkerFailure(
          `worker speaks protocol ${props.protocol}, expected ${WORKER_PROTOCOL_VERSION}`,
        );
      }
      log.debug("Worker {pid} started (GHC {ghc})", { pid: child.pid, ghc: props.ghc });
      return new Worker(child, stream, props, stderr);
    } catch (e) {
      await killAndWait(child);
      throw new WorkerFailure(`${e instanceof Error ? e.message : e}${formatTail(stderr.tail)}`);
    }
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return !this.#exited;
  }

  /** The last lines the worker wrote to its stderr (its log), for error reports. */
  get stderrTail(): string[] {
    return [...this.#stderr.tail];
  }

  /**
   * Runs one request, forwarding output to `sink` as it arrives. Throws {@linkcode WorkerFailure} if the
   * worker dies or misbehaves; a rejection from the sink propagates unchanged (the client is gone).
   *
   * A failure counts as caused by the request unless a signal from outside ended the worker: a worker
   * that exits, crashes, breaks its channel or says it cannot go on while serving does so in the code the
   * request runs in it — GHC on this input, its Template Haskell, its plugins — which would do the same in
   * any worker; what kills a healthy worker from outside says nothing about the request.
   */
  async run(request: WorkerRequest, sink: OutputSink): Promise<WorkerOutcome> {
    this.requestsServed++;
    this.serving = true;
    const linesBefore = this.#stderr.count;
    try {
      await this.#stream.send(encodeToWorker({ kind: "request", request }));
      for (;;) {
        const frame = await this.#stream.read();
        if (frame === null) throw new WorkerFailure(`GHC worker ${this.pid} closed its channel mid-request`);
        const message = decodeWorkerMessage(frame, "output or an outcome", [
          "stdout",
          "stderr",
          "exit",
          "defer",
          "failure",
        ]);
        switch (message.kind) {
          case "stdout":
            await sink.stdout(message.chunk);
            break;
          case "stderr":
            await sink.stderr(message.chunk);
            break;
          case "exit":
            this.holdings = holdingsOf(message.facts);
            return {
              kind: "exit",
              code: message.code,
              interfacesResumed: Number(message.facts["interfaces-resumed"] ?? 0),
              stagesMs: stageTimes(message.facts),
              ...gcTimeOf(message.facts),
              ...(message.facts.leftovers ? { leftovers: message.facts.leftovers } : {}),
              ...staleModulesOf(message.facts),
              ...ranCodeOf(message.facts),
              ...moduleSourcesOf(message.facts),
            };
          case "defer":
            return { kind: "defer", reason: message.reason };
          case "failure":
            throw new WorkerFailure(`GHC worker ${this.pid} failed: ${message.message}`);
        }
      }
    } catch (e) {
      if (e instanceof WorkerFailure || e instanceof ProtocolError || !this.alive) {
        const status = await this.#settledStatus();
        const byRequest = status === null || !KILLED_FROM_OUTSIDE.has(status.signal ?? "");
        // What it logged while serving this request, once its stderr has ended (a dying worker's last words).
        await withTimeout(this.#stderr.done, 200, () => new Error("stderr still open")).catch(() => {});
        const during = Math.min(this.#stderr.count - linesBefore, this.#stderr.tail.length);
        const lines = during > 0 ? this.#stderr.tail.slice(-during) : [];
        throw new WorkerFailure(
          `${e instanceof Error ? e.message : e}${status ? ` (${describeStatus(status)})` : ""}` +
            (byRequest
              ? "; the compile ended or broke its GHC worker itself (GHC, Template Haskell or a plugin it " +
                "ran), so it is not run again on another"
              : "") +
            formatTail(lines, "its stderr during this compile"),
          byRequest,
        );
      }
      throw e;
    } finally {
      this.serving = false;
    }
  }

  /** Resident memory of the worker process in bytes, or null where /proc is not available. */
  async residentBytes(): Promise<number | null> {
    try {
      const status = await Deno.readTextFile(`/proc/${this.pid}/status`);
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      return kb === undefined ? null : Number(kb) * 1024;
    } catch {
      return null;
    }
  }

  /**
   * Shared libraries this worker has loaded that have since changed on disk. A worker with any must
   * not serve again: dlopen would keep handing it the old code (see lib/pool/loaded_libraries.ts).
   */
  staleLibraries(): string[] {
    return changedLibraries(this.#libraries);
  }

  /**
   * The working directory of a request after which this worker had libraries from inside that directory
   * mapped (a package database of the build's own tree), if any; see {@linkcode librariesOutside}.
   */
  #librariesCwd: string | null = null;

  /**
   * Records the libraries the worker has mapped now, after a request in `cwd` that had `tmpDir` (whatever
   * it loaded from there is skipped), for {@linkcode staleLibraries} and {@linkcode librariesOutside}.
   */
  async recordLibraries(tmpDir: string, cwd: string): Promise<void> {
    // Request directories are unique and removed afterwards: what was loaded from them never returns.
    const requestDirs = tmpDir.slice(0, tmpDir.lastIndexOf("/") + 1) + REQUEST_DIR_PREFIX;
    this.#libraries = await snapshotLibraries(this.pid, [requestDirs]);
    // Mapped paths are real paths: the directory's own may go through symbolic links.
    const real = await Deno.realPath(cwd).catch(() => cwd);
    if (this.#librariesCwd === null && librariesUnder(this.#libraries, real)) this.#librariesCwd = cwd;
  }

  /**
   * The other working directory whose libraries this worker holds, if it must not serve a request in
   * `cwd`. GHC loads a package's library by the path its database gives, relative to the working
   * directory where the database was named relatively, and dlopen hands back an already loaded library
   * of the same name: another directory's library at the same relative path would run instead.
   */
  librariesOutside(cwd: string): string | null {
    return this.#librariesCwd === null || this.#librariesCwd === cwd ? null : this.#librariesCwd;
  }

  /** Stops the worker at once; safe to call more than once. */
  async kill(): Promise<void> {
    // A started worker leads a process group (lib/plugin/Ghcpw/Parent.hs): the C compiler, assembler or
    // iserv it is running must not outlive it and write outputs after it. Once the worker has exited its
    // pid may be another's, so only a live one is signalled.
    if (this.alive) await killAndWait(this.#child, { group: true });
    await this.#status;
  }

  /** Asks the worker to exit by closing its input, as at server shutdown. */
  async close(): Promise<void> {
    await this.#stream.close();
    const timer = setTimeout(() => this.kill(), 5000);
    await this.#status;
    clearTimeout(timer);
  }

  /** The exit status if the process has exited or exits within a moment. */
  #settledStatus(): Promise<Deno.CommandStatus | null> {
    return withTimeout(this.#status, 200, () => new Error("still running")).catch(() => null);
  }
}

/** Reads a worker's greeting properties; a worker that cannot start says why in a Failure instead. */
async function readGreeting(stream: MessageStream): Promise<Record<string, string>> {
  const frame = await stream.read();
  if (frame === null) throw new ProtocolError("connection closed while waiting for the worker's greeting");
  const message = decodeWorkerMessage(frame, "the worker's greeting", ["hello", "failure"]);
  if (message.kind === "failure") throw new ProtocolError(message.message);
  return message.properties;
}

function describeStatus(status: Deno.CommandStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
}

function formatTail(tail: string[], heading = "its last stderr lines"): string {
  return tail.length > 0 ? `; ${heading}:\n  ${tail.join("\n  ")}` : "";
}

/** A worker's stderr (its log) as it is collected: its last lines, how many there were, and its end. */
interface StderrLog {
  tail: string[];
  count: number;
  done: Promise<void>;
}

/** Logs the worker's stderr and keeps its last lines. */
function collectStderr(stream: ReadableStream<Uint8Array>, pid: number): StderrLog {
  const stderr: StderrLog = { tail: [], count: 0, done: Promise.resolve() };
  stderr.done = (async () => {
    const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines());
    for await (const line of lines) {
      stderr.tail.push(line);
      stderr.count++;
      if (stderr.tail.length > STDERR_TAIL_LINES) stderr.tail.shift();
      log.debug("worker {pid}: {line}", { pid, line });
    }
  })();
  return stderr;
}

function splitLines(): TransformStream<string, string> {
  let pending = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop()!;
      for (const p of parts) controller.enqueue(p);
    },
    flush(controller) {
      if (pending) controller.enqueue(pending);
    },
  });
}
