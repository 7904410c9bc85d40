/**
 * `ghcpw buck2`, Buck2's native worker protocol, driven by a gRPC client no one here wrote: Debian's
 * python3-grpcio (installed with apt if missing), through tests/support/buck2_client.py, which builds
 * worker.proto's messages at run time. Workers run as Buck2 runs them (a process with $WORKER_SOCKET,
 * the project root as working directory, no options but the ghc), in a runtime directory of the test's
 * own, so the first command auto-starts the shared server there.
 *
 * Every compile also runs on plain ghc in a twin tree, with stdout and stderr into one pipe: the
 * response's `stderr` must be that text, its exit code ghc's, and in the end every `.hi` byte-identical.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { MODULE_ORDER, project, TYPE_ERROR_MODULE } from "../support/fixtures.ts";
import { assertSameOutputs, GHC, ghcpwCli, run, writeTree } from "../support/helpers.ts";
import { type Isolated, isolated, plainModule, slowModule, twinTrees, waitFor } from "../support/service.ts";
import { ensureDebianPackages } from "../support/apt.ts";
import { killAndWait } from "../../lib/process/kill.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const CLIENT = `${ROOT}/tests/support/buck2_client.py`;
// Debian's packages are importable by Debian's interpreter; a python3 earlier on PATH may be another.
const PYTHON = "/usr/bin/python3";

/** Makes sure Debian's gRPC and protobuf modules import, installing them with apt if they do not. */
function ensurePythonGrpc(): Promise<void> {
  return ensureDebianPackages("this test", ["python3-grpcio", "python3-protobuf"], async () => {
    return (await run(PYTHON, ["-c", "import grpc, google.protobuf"])).code === 0;
  });
}

/** A call for the client (see tests/support/buck2_client.py); ARGs are strings or `{ hex }` bytes. */
type Call = Record<string, unknown>;

/** An ExecuteResponse as the client reports it. */
interface WorkerResponse {
  exit_code: number;
  stderr: string;
  timed_out_after_s: number | null;
}

/** One call's result: a response (a stream's: a list of them, with ids), or a gRPC error status. */
interface Result<T = WorkerResponse> {
  ok?: T;
  error?: { code: string; details: string };
  seconds: number;
}

/** Makes the calls at once on the worker at `socket`; resolves to their results, in order. */
async function call(socket: string, calls: Call[]): Promise<Result<unknown>[]> {
  const child = new Deno.Command(PYTHON, {
    args: [CLIENT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({ socket, calls })));
  await writer.close();
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder();
  assertEquals(out.code, 0, `the gRPC client failed:\n${text.decode(out.stderr)}`);
  return JSON.parse(text.decode(out.stdout));
}

/** One Execute call's response; fails on a gRPC error. */
async function execute(socket: string, argv: string[]): Promise<WorkerResponse> {
  const [result] = await call(socket, [{ rpc: "execute", argv }]);
  return okResponse(result);
}

function okResponse(result: Result<unknown>): WorkerResponse {
  assert(result.ok !== undefined, `a gRPC error: ${JSON.stringify(result.error)}`);
  return result.ok as WorkerResponse;
}

/** Plain ghc with stdout and stderr into one pipe: the text in the order ghc wrote it, and its exit code. */
async function ghcMerged(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  const r = await run("sh", ["-c", 'exec "$0" "$@" 2>&1', GHC, ...args], { cwd });
  return { code: r.code, output: r.stdout };
}

/** Asserts that a worker's response is what plain ghc gives for the same command in the cold tree. */
async function assertLikeGhc(response: WorkerResponse, args: string[], cold: string): Promise<void> {
  const expected = await ghcMerged(args, cold);
  assertEquals(
    { code: response.exit_code, output: response.stderr, timedOut: response.timed_out_after_s },
    { code: expected.code, output: expected.output, timedOut: null },
    `ghc ${args.join(" ")}`,
  );
}

/** A `ghcpw buck2` process, started as Buck2 starts a worker. */
interface Worker {
  /** The worker's directory (Buck2's /tmp/buck2_worker/<id>), holding its socket. */
  dir: string;
  socket: string;
  child: Deno.ChildProcess;
  /** Its exit code and log (stderr), once it has exited. */
  result: Promise<{ code: number; log: string }>;
}

/** Starts a worker in `cwd` with `args` and waits until its socket accepts connections. */
async function startWorker(cwd: string, env: Record<string, string>, args: string[] = []): Promise<Worker> {
  const dir = await Deno.makeTempDir({ prefix: "buck2_worker-" });
  const socket = `${dir}/socket`;
  const child = new Deno.Command("deno", {
    args: ["run", "-A", `${ROOT}/main.ts`, "buck2", "--ghc", GHC, "-v", ...args],
    cwd,
    env: { ...env, WORKER_SOCKET: socket },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const result = (async () => {
    const log = await new Response(child.stderr).text();
    return { code: (await child.status).code, log };
  })();
  let exited = false;
  result.finally(() => exited = true);
  await waitFor("the worker to listen", async () => {
    if (exited) throw new Error(`the worker exited early:\n${(await result).log}`);
    try {
      (await Deno.connect({ transport: "unix", path: socket })).close();
      return true;
    } catch {
      return false;
    }
  }, 60_000);
  return { dir, socket, child, result };
}

/** Stops a worker as Buck2 does at the end of a command; resolves to its exit code and log. */
async function stopWorker(worker: Worker): Promise<{ code: number; log: string }> {
  await killAndWait(worker.child, { signal: "SIGTERM" });
  return await worker.result;
}

/** The one ghcpw server of the isolated runtime directory, as `ghcpw status --json` reports it. */
async function sharedServer(env: Isolated): Promise<{ pid: number; totals: Record<string, number> }> {
  const r = await ghcpwCli(["status", "--json"], { env: env.env });
  assertEquals(r.code, 0, r.stderr);
  const servers = JSON.parse(r.stdout);
  assertEquals(servers.length, 1, `servers: ${r.stdout}`);
  return servers[0];
}

const LEAVES = ["Leaf1", "Leaf2", "Leaf3", "Leaf4"];

/** Sources of the project, in dependency order, after Shapes/Types. */
const CHAIN = ["Shapes/Area", "Gen/TH", "Tables", "Main"];

/** As examples/buck2's rules give them: only the packages named, nothing from the environment. */
const PACKAGES = ["-package-env=-", "-hide-all-packages"].concat(
  ...["base", "containers", "template-haskell"].map((p) => ["-package", p]),
);

/** Where a module's outputs go: a directory per module, as Buck2 gives each target's outputs their own. */
const outputDir = (module: string) => `buck-out/${module.replaceAll("/", ".")}`;

/**
 * A per-module compile as examples/buck2's rules send it: dynamic objects (which Template Haskell loads
 * in one-shot mode), the outputs named with -o and -ohi in the module's own directory, and -i for the
 * directories of the home modules it may import (here: every module before it).
 */
function compileArgs(module: string, ...extra: string[]): string[] {
  const imports = MODULE_ORDER.slice(0, Math.max(0, MODULE_ORDER.indexOf(module))).map(outputDir);
  return [
    "-c",
    "-dynamic",
    "-fPIC",
    ...PACKAGES,
    "-i",
    ...imports.map((dir) => `-i${dir}`),
    ...extra,
    "-o",
    `${outputDir(module)}/${module}.o`,
    "-ohi",
    `${outputDir(module)}/${module}.hi`,
    `${module}.hs`,
  ];
}

/** The link of the program, as examples/buck2's haskell_link sends it. */
const LINK_ARGS = [
  "-dynamic",
  ...PACKAGES,
  "-o",
  "buck-out/app/app",
  ...MODULE_ORDER.map((m) => `${outputDir(m)}/${m}.o`),
];

Deno.test("ghcpw buck2 serves Buck2's worker protocol with ghc's results", async (t) => {
  await ensurePythonGrpc();
  const env = await isolated();
  const sources = {
    ...project(),
    ...Object.fromEntries(LEAVES.map((n) => [`${n}.hs`, plainModule(n, n.length)])),
    "Broken.hs": TYPE_ERROR_MODULE,
    "Sleepy.hs": slowModule("Sleepy", 3_000),
    "Slow.hs": slowModule("Slow", 120_000),
  };
  const trees = await twinTrees(sources);
  // Buck2 creates the directories of an action's outputs before running it.
  for (const tree of [trees.cold, trees.warm]) {
    for (const source of Object.keys(sources)) {
      const output = `${tree}/${outputDir(source.replace(/\.hs$/, ""))}/${source}`;
      await Deno.mkdir(output.slice(0, output.lastIndexOf("/")), { recursive: true });
    }
    await Deno.mkdir(`${tree}/buck-out/app`);
  }
  // As Buck2 runs a worker: its daemon's environment, and strict, so that no fallback can hide a bug.
  const workerEnv = { ...env.env, GHCPW_STRICT: "1" };
  const workers: Worker[] = [];
  try {
    const first = await startWorker(trees.warm, workerEnv);
    workers.push(first);

    await t.step("concurrent Execute calls, the first ones starting the shared server", async () => {
      const modules = [...LEAVES, "Shapes/Types"];
      const results = await call(
        first.socket,
        modules.map((m) => ({ rpc: "execute", argv: compileArgs(m) })),
      );
      for (const [i, m] of modules.entries()) {
        await assertLikeGhc(okResponse(results[i]), compileArgs(m), trees.cold);
      }
      assertEquals((await sharedServer(env)).totals.requests, modules.length);
    });

    await t.step("a per-module build in dependency order, Template Haskell printing on stdout", async () => {
      for (const m of CHAIN) {
        const response = await execute(first.socket, compileArgs(m));
        // What the splice prints goes to ghc's stdout, which Buck2 would drop: it must be in stderr.
        if (m === "Tables") assertMatch(response.stderr, /^TH: computing the answer$/m);
        await assertLikeGhc(response, compileArgs(m), trees.cold);
      }
    });

    await t.step("a compile error: ghc's exit code and diagnostics", async () => {
      const response = await execute(first.socket, compileArgs("Broken"));
      assertEquals(response.exit_code, 1);
      assertMatch(response.stderr, /Broken\.hs:4:10: error/);
      await assertLikeGhc(response, compileArgs("Broken"), trees.cold);
    });

    await t.step("ExecuteStream: ids answered as their compiles finish", async () => {
      const commands = [
        { id: 0, argv: compileArgs("Sleepy") },
        { id: 1, argv: compileArgs("Leaf1", "-fforce-recomp") },
        { id: 2, argv: compileArgs("Broken") },
      ];
      const [result] = await call(first.socket, [{ rpc: "stream", commands }]);
      const responses = result.ok as (WorkerResponse & { id: number })[];
      assert(responses !== undefined, JSON.stringify(result.error));
      // The slow compile of id 0 (three seconds in a splice) runs beside the others and comes last.
      assertEquals(responses.map((r) => r.id).sort(), [0, 1, 2]);
      assertEquals(responses.at(-1)?.id, 0);
      for (const r of responses) {
        const { id: _, ...response } = r;
        await assertLikeGhc(response, commands[r.id].argv, trees.cold);
      }
    });

    await t.step("a timeout stops the compile and answers timed_out_after_s", async () => {
      const before = (await sharedServer(env)).totals;
      const [result] = await call(first.socket, [{
        rpc: "execute",
        argv: compileArgs("Slow"),
        timeout_s: 1,
      }]);
      const response = okResponse(result);
      assertEquals(response.timed_out_after_s, 1);
      assertMatch(response.stderr, /longer than the action's timeout \(1 s\)/);
      assert(result.seconds < 20, `answered after ${result.seconds} s`);
      // The worker closed its connection, so the server stopped the compile.
      await waitFor("the server to cancel the compile", async () => {
        return (await sharedServer(env)).totals.cancelled === before.cancelled + 1;
      });
    });

    await t.step("a cancel event, and a dropped call, stop their compiles", async () => {
      const before = (await sharedServer(env)).totals;
      const results = await call(first.socket, [
        { rpc: "exec", argv: compileArgs("Slow"), cancel_after_s: 1 },
        { rpc: "execute", argv: compileArgs("Slow"), cancel_after_s: 1 },
      ]);
      assertEquals(results.map((r) => r.error?.code), ["CANCELLED", "CANCELLED"]);
      assertMatch(results[0].error!.details, /cancelled the command/);
      await waitFor("the server to cancel both compiles", async () => {
        return (await sharedServer(env)).totals.cancelled === before.cancelled + 2;
      });
      await assertNotCompiled(trees.warm, "Slow");
    });

    await t.step("malformed messages get a clear status, and the worker goes on serving", async () => {
      const results = await call(first.socket, [
        { rpc: "raw", method: "/worker.Worker/Execute", hex: "0aff" },
        { rpc: "raw", method: "/worker.WorkerStreaming/ExecuteStream", hex: "ffffffff" },
        { rpc: "exec", no_command: true },
        { rpc: "execute", argv: ["-c", { hex: "ff2e6873" }] },
        { rpc: "execute", argv: ["-c", "Leaf2.hs"], env: { "A=B": "1" } },
      ]);
      assertEquals(results.map((r) => r.error?.code), [
        "INTERNAL",
        "INTERNAL",
        "INVALID_ARGUMENT",
        undefined,
        undefined,
      ]);
      assertMatch(results[0].error!.details, /parse binary/);
      assertMatch(results[2].error!.details, /without a command/);
      assertEquals(okResponse(results[3]), {
        exit_code: 2,
        stderr: "ghcpw buck2: cannot run this command: argument 2 is not valid UTF-8\n",
        timed_out_after_s: null,
      });
      assertEquals(okResponse(results[4]).exit_code, 2);
      assertMatch(okResponse(results[4]).stderr, /environment entry 1 has an invalid name "A=B"/);
      const argv = compileArgs("Leaf2", "-fforce-recomp");
      await assertLikeGhc(await execute(first.socket, argv), argv, trees.cold);
    });

    await t.step("SIGTERM at the end of a command ends the worker, not the server", async () => {
      const server = await sharedServer(env);
      const started = performance.now();
      const stopped = await stopWorker(first);
      assertEquals(stopped.code, 0, stopped.log);
      assert(
        performance.now() - started < 5_000,
        `the worker took ${performance.now() - started} ms to stop`,
      );
      assertMatch(stopped.log, /Stopping on SIGTERM/);
      assert(!await exists(first.socket), "the worker left its socket behind");
      assertEquals((await sharedServer(env)).pid, server.pid);
    });

    const second = await startWorker(trees.warm, workerEnv);
    workers.push(second);

    await t.step("the next command's worker finds the server's GHC processes warm", async () => {
      await writeTree(trees.cold, { "Shapes/Area.hs": project(50)["Shapes/Area.hs"] });
      await writeTree(trees.warm, { "Shapes/Area.hs": project(50)["Shapes/Area.hs"] });
      const before = (await sharedServer(env)).totals;
      for (const m of CHAIN) {
        await assertLikeGhc(await execute(second.socket, compileArgs(m)), compileArgs(m), trees.cold);
      }
      const after = (await sharedServer(env)).totals;
      assertEquals(after.requests - before.requests, CHAIN.length);
      assertEquals(after.warmHits - before.warmHits, CHAIN.length, "a compile started cold");
    });

    await t.step("SIGTERM in the middle of a compile stops it, and only it", async () => {
      const server = await sharedServer(env);
      const pending = call(second.socket, [{ rpc: "execute", argv: compileArgs("Slow") }]);
      await waitFor("the slow compile to reach the server", async () => {
        return (await sharedServer(env)).totals.requests === server.totals.requests + 1;
      });
      const started = performance.now();
      const stopped = await stopWorker(second);
      assertEquals(stopped.code, 0, stopped.log);
      assert(
        performance.now() - started < 5_000,
        `the worker took ${performance.now() - started} ms to stop`,
      );
      const [result] = await pending;
      assertEquals(result.error?.code, "UNAVAILABLE", JSON.stringify(result));
      assertMatch(result.error!.details, /shutting down/);
      await waitFor("the server to cancel the compile", async () => {
        return (await sharedServer(env)).totals.cancelled === server.totals.cancelled + 1;
      });
      await assertNotCompiled(trees.warm, "Slow");
      assertEquals((await sharedServer(env)).pid, server.pid);
    });

    await t.step("the link gives the program ghc's link gives", async () => {
      const linker = await startWorker(trees.warm, workerEnv);
      workers.push(linker);
      const linked = await execute(linker.socket, LINK_ARGS);
      assertEquals(linked.exit_code, 0, linked.stderr);
      await assertLikeGhc(linked, LINK_ARGS, trees.cold);
      assertEquals((await stopWorker(linker)).code, 0);
      const [cold, warm] = await Promise.all(
        [trees.cold, trees.warm].map((tree) => run(`${tree}/buck-out/app/app`, [])),
      );
      assertEquals(warm, cold);
      assertEquals(warm.stdout.split("\n")[0], "51");
    });

    await t.step("every interface file equals ghc's", async () => {
      await assertSameOutputs(trees.cold, trees.warm, [".hi"]);
    });

    await t.step("with no server to use, the worker runs ghc itself", async () => {
      const before = (await sharedServer(env)).totals;
      const alone = await startWorker(trees.warm, { ...env.env, GHCPW_AUTOSTART: "0" }, [
        "--socket",
        `${env.root}/nobody.sock`,
      ]);
      workers.push(alone);
      const argv = compileArgs("Leaf3", "-fforce-recomp");
      await assertLikeGhc(await execute(alone.socket, argv), argv, trees.cold);
      assertEquals((await sharedServer(env)).totals.requests, before.requests);
      assertEquals((await stopWorker(alone)).code, 0);
    });
  } finally {
    for (const w of workers) {
      await killAndWait(w.child);
      await Deno.remove(w.dir, { recursive: true }).catch(() => {});
    }
    await env.cleanup();
    await Deno.remove(`${trees.warm}/..`, { recursive: true }).catch(() => {});
  }
});

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Asserts that a stopped compile left no interface behind. */
async function assertNotCompiled(tree: string, module: string): Promise<void> {
  assert(!await exists(`${tree}/${outputDir(module)}/${module}.hi`), `${module}.hi was written`);
}
