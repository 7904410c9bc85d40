/**
 * The pool's logic — queueing, affinity, recycling, retries, cancellation — through the seam over
 * starting workers: the real Pool and Worker, with in-process fake workers (tests/support/fake_worker.ts).
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { type FakeScript, FakeWorkers } from "../support/fake_worker.ts";
import { Pool, type PoolOptions } from "../../lib/pool/pool.ts";
import { WorkerFailure } from "../../lib/pool/worker.ts";
import { CollectingSink } from "../../lib/output.ts";
import {
  WORKER_PROTOCOL_VERSION,
  type WorkerMessage,
  type WorkerRequest,
} from "../../lib/wire/worker_protocol.ts";
import { Environment } from "../../lib/process/environment.ts";

const SPEC = { ghc: "ghc", args: [], cwd: "/" };

function request(name: string): WorkerRequest {
  return {
    mode: ["-c"],
    args: [name],
    cwd: "/",
    tmpDir: `/nonexistent/${name}`,
    env: Environment.fromRecord({}),
    stderrIsTerminal: false,
    mergedOutput: false,
    umask: 0o022,
  };
}

async function withPool(
  fakes: FakeWorkers,
  options: Omit<PoolOptions, "startProcess">,
  body: (pool: Pool) => Promise<void>,
): Promise<void> {
  const pool = new Pool(SPEC, { ...options, startProcess: fakes.start });
  await pool.start();
  try {
    await body(pool);
  } finally {
    await pool.close();
  }
}

/** Resolves once `condition` holds, checking between turns of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i > 1000) throw new Error("condition never held");
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("requests queue in arrival order while every worker is busy", async () => {
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const fakes = new FakeWorkers(async (r) => {
    order.push(r.args[0]);
    if (r.args[0] === "first") await held;
    return { kind: "exit", code: 0, facts: {} };
  });
  await withPool(fakes, { size: 1 }, async (pool) => {
    const sink = new CollectingSink();
    const runs = ["first", "second", "third"].map((n) => pool.run(request(n), sink));
    await until(() => order.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    assertEquals(order, ["first"], "the others wait for the one worker");
    release();
    await Promise.all(runs);
    assertEquals(order, ["first", "second", "third"]);
    assertEquals(fakes.started.length, 1);
  });
});

Deno.test("an idle worker that last served the same affinity is preferred", async () => {
  const fakes = new FakeWorkers();
  await withPool(fakes, { size: 2 }, async (pool) => {
    await until(() => pool.workers.length === 2 && pool.workers.every((w) => pool.isIdle(w)));
    const sink = new CollectingSink();
    // Two at once, so that each worker takes one and remembers its affinity.
    await Promise.all([
      pool.run(request("a1"), sink, undefined, "a"),
      pool.run(request("b1"), sink, undefined, "b"),
    ]);
    const servedA = fakes.started.find((p) => p.requests.some((r) => r.args[0] === "a1"))!;
    for (const name of ["b2", "a2", "b3", "a3"]) {
      // A worker rejoins the pool once its checks after a request are done, after the answer.
      await until(() => pool.workers.every((w) => pool.isIdle(w)));
      await pool.run(request(name), sink, undefined, name[0]);
    }
    assertEquals(servedA.requests.map((r) => r.args[0]), ["a1", "a2", "a3"]);
  });
});

Deno.test("output and the exit code come through; a deferral is reported as such", async () => {
  const fakes = new FakeWorkers(async (r, { send }) => {
    if (r.args[0] === "defer") return { kind: "defer", reason: "not for a worker" };
    await send({ kind: "stdout", chunk: new TextEncoder().encode("out") });
    await send({ kind: "stderr", chunk: new TextEncoder().encode("err") });
    return {
      kind: "exit",
      code: 3,
      facts: { "interfaces-resumed": "5", "stage-frontend": "12.5", "stage-save": "0.25", "stage-x": "bad" },
    };
  });
  await withPool(fakes, { size: 1 }, async (pool) => {
    const sink = new CollectingSink();
    assertEquals(await pool.run(request("x"), sink), {
      kind: "exit",
      code: 3,
      interfacesResumed: 5,
      stagesMs: { frontend: 12.5, save: 0.25 },
    });
    assertEquals(sink.text(), "outerr");
    assertEquals(await pool.run(request("defer"), sink), { kind: "defer", reason: "not for a worker" });
    await pool.run(request("y"), sink);
    assertEquals(pool.stats.warmHits, 2);
    assertEquals(pool.stats.stagesMs, { frontend: 25, save: 0.5 }, "stage times are summed over requests");
    assert(pool.stats.poolMs.checks > 0, "the checks after each request are timed");
  });
});

Deno.test("a worker is replaced after its maximum number of requests", async () => {
  const fakes = new FakeWorkers();
  await withPool(fakes, { size: 1, maxRequests: 2 }, async (pool) => {
    const sink = new CollectingSink();
    for (let i = 0; i < 5; i++) await pool.run(request(`r${i}`), sink);
    assertEquals(fakes.started.map((p) => p.requests.length).slice(0, 3), [2, 2, 1]);
    assertEquals(pool.stats.recycled.requests, 2);
    assert(fakes.started[0].exited && fakes.started[1].exited);
    assertMatch(pool.recycleReasonOf(pool.workers[0]) ?? "", /^requests: 2 requests served/);
  });
});

Deno.test("a worker whose request left something running is replaced before it serves again", async () => {
  const fakes = new FakeWorkers((r): WorkerMessage => {
    const facts: Record<string, string> = r.args[0] === "leaky"
      ? { leftovers: "leftover threads still running: 1" }
      : {};
    return { kind: "exit", code: 0, facts };
  });
  await withPool(fakes, { size: 1 }, async (pool) => {
    const sink = new CollectingSink();
    for (const name of ["plain", "leaky", "next"]) await pool.run(request(name), sink);
    assertEquals(fakes.started.map((p) => p.requests.map((r) => r.args[0])), [["plain", "leaky"], ["next"]]);
    assertEquals(pool.stats.recycled.leftovers, 1);
    assertEquals(pool.recycleReasonOf(pool.workers[0]), "leftovers: leftover threads still running: 1");
  });
});

Deno.test("a worker killed from outside before any output is retried once on a fresh worker", async () => {
  const fakes: FakeWorkers = new FakeWorkers((_, { process }) => {
    // As the OOM killer would.
    if (process === fakes.started[0]) process.kill("SIGKILL");
    else return { kind: "exit", code: 0, facts: {} };
  });
  await withPool(fakes, { size: 1 }, async (pool) => {
    assertEquals(await pool.run(request("x"), new CollectingSink()), {
      kind: "exit",
      code: 0,
      interfacesResumed: 0,
      stagesMs: {},
    });
    assertEquals(pool.stats.retries, 1);
    assertEquals(pool.stats.workerFailures, 1);
    assertEquals(pool.stats.recycled.failure, 1);
  });
});

Deno.test("a worker that dies after printing is not retried: the failure reaches the caller", async () => {
  const fakes = new FakeWorkers(async (_, { send, crash, process }) => {
    await process.log("panic: out of luck");
    await send({ kind: "stderr", chunk: new TextEncoder().encode("half a message") });
    crash(2);
  });
  await withPool(fakes, { size: 1 }, async (pool) => {
    const sink = new CollectingSink();
    let error: unknown;
    await pool.run(request("x"), sink).catch((e) => error = e);
    assert(error instanceof WorkerFailure, String(error));
    assertMatch(error.message, /closed its channel mid-request \(exit code 2\).*panic: out of luck/s);
    assertEquals(sink.text(), "half a message");
    assertEquals(pool.stats.retries, 0);
    // A fresh worker takes the dead one's place.
    await until(() => fakes.started.length === 2);
  });
});

Deno.test("a worker the request ends itself is not retried: its failure, as it says, reaches the caller", async (t) => {
  const cases: [string, FakeScript, RegExp][] = [
    [
      "it exits",
      (_, { crash }) => crash(3),
      /closed its channel mid-request \(exit code 3\); the compile ended/,
    ],
    [
      "it says the request broke it",
      () => ({ kind: "failure", message: "the request broke the worker: <stdout>: hFlush" }),
      /failed: the request broke the worker: <stdout>: hFlush; the compile ended/,
    ],
  ];
  for (const [name, script, message] of cases) {
    await t.step(name, async () => {
      const fakes = new FakeWorkers(async (request, context) => {
        if (request.args[0] === "earlier") {
          await context.process.log("from an earlier request");
          return { kind: "exit", code: 0, facts: {} };
        }
        await context.process.log("its last words");
        return script(request, context);
      });
      await withPool(fakes, { size: 1 }, async (pool) => {
        await pool.run(request("earlier"), new CollectingSink());
        let error: unknown;
        await pool.run(request("x"), new CollectingSink()).catch((e) => error = e);
        assert(error instanceof WorkerFailure && error.causedByRequest, String(error));
        assertMatch(error.message, message);
        assertMatch(
          error.message,
          /so it is not run again on another; its stderr during this compile:\n {2}its last words$/,
        );
        assertEquals(pool.stats.retries, 0);
        assertEquals(pool.stats.workerFailures, 1);
        assertEquals(fakes.started[0].requests.length, 2);
        // Only the one worker served it; a fresh one takes its place.
        await until(() => fakes.started.length === 2);
        assertEquals(fakes.started[1].requests, []);
      });
    });
  }
});

Deno.test("cancelling a running request kills its worker; a queued one leaves the queue", async () => {
  const fakes = new FakeWorkers(() => new Promise(() => {}));
  await withPool(fakes, { size: 1 }, async (pool) => {
    const running = new AbortController();
    const queued = new AbortController();
    const first = pool.run(request("running"), new CollectingSink(), running.signal).catch((e) => e);
    await until(() => fakes.started[0].requests.length === 1);
    const second = pool.run(request("queued"), new CollectingSink(), queued.signal).catch((e) => e);
    queued.abort(new Error("client gone"));
    running.abort(new Error("timeout"));
    assertEquals((await first).message, "timeout");
    assertEquals((await second).message, "client gone");
    assert(fakes.started[0].exited);
    assertEquals(pool.stats.recycled.cancelled, 1);
    assertEquals(fakes.started.flatMap((p) => p.requests.map((r) => r.args[0])), ["running"]);
  });
});

Deno.test("a worker speaking another protocol version does not start", async () => {
  const fakes = new FakeWorkers();
  fakes.greeting = { protocol: "0" };
  const pool = new Pool(SPEC, { size: 1, startProcess: fakes.start });
  let error: unknown;
  await pool.start().catch((e) => error = e);
  assert(error instanceof WorkerFailure);
  assertMatch(error.message, new RegExp(`worker speaks protocol 0, expected ${WORKER_PROTOCOL_VERSION}`));
  assert(fakes.started[0].exited);
  await pool.close();
});
