/**
 * compile()'s logic on the worker path, through the seam over starting workers: what a worker is asked
 * to run, its request directory, response file errors, cancellation. (The paths that run the real ghc
 * are the system tests'.)
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { FakeWorkers } from "../support/fake_worker.ts";
import { compile, type Compiler } from "../../lib/compile/compile.ts";
import { Pool } from "../../lib/pool/pool.ts";
import { CollectingSink } from "../../lib/output.ts";
import { Environment } from "../../lib/process/environment.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function withCompiler(fakes: FakeWorkers, body: (compiler: Compiler) => Promise<void>): Promise<void> {
  const pool = new Pool({ ghc: "ghc", args: [], cwd: "/" }, { size: 1, startProcess: fakes.start });
  await pool.start();
  try {
    await body({
      ghc: "ghc",
      mergedExec: "ghcpw-merged-exec",
      pool,
      stats: { worker: 0, direct: 0, deferred: 0, timesMs: {} },
      packageDbs: ["/db"],
    });
  } finally {
    await pool.close();
  }
}

const invocation = (argv: string[], cwd = "/") => ({
  argv,
  cwd,
  env: Environment.fromRecord({ HOME: "/h" }),
  stderrIsTerminal: true,
  mergedOutput: false,
  umask: 0o027,
});

Deno.test("a worker runs the invocation with its mode apart, in a request directory of its own", async () => {
  let tmpDirDuring: boolean | undefined;
  const fakes = new FakeWorkers(async (r) => {
    tmpDirDuring = await exists(r.tmpDir);
    return { kind: "exit", code: 4, facts: {} };
  });
  await withCompiler(fakes, async (compiler) => {
    assertEquals(await compile(compiler, invocation(["-O", "-c", "A.hs"]), new CollectingSink()), 4);
    const [request] = fakes.started[0].requests;
    assertEquals(request.mode, ["c"]);
    // No -tmpdir: GHC must see the client's own temporary directory (it leaves includes under it out of
    // a module's dependent files); the worker keeps its temporary files in request.tmpDir by itself.
    assertEquals(request.args, ["-no-link", "-package-db", "/db", "-O", "A.hs"]);
    assertEquals([request.cwd, request.env.toRecord(), request.stderrIsTerminal, request.umask], [
      "/",
      { HOME: "/h" },
      true,
      0o027,
    ]);
    assertEquals(tmpDirDuring, true);
    assertEquals(await exists(request.tmpDir), false, "the request directory is removed afterwards");
    const { timesMs, ...counts } = compiler.stats;
    assertEquals(counts, { worker: 1, direct: 0, deferred: 0 });
    assert(timesMs["request-dir"] > 0, "making and removing the request directory is timed");
  });
});

Deno.test("a response file that cannot be read fails as in GHC, with no worker asked", async () => {
  const fakes = new FakeWorkers();
  await withCompiler(fakes, async (compiler) => {
    const sink = new CollectingSink();
    const dir = await Deno.makeTempDir();
    try {
      assertEquals(await compile(compiler, invocation(["-c", "@missing.rsp"], dir), sink), 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assertMatch(sink.text(), /missing\.rsp/);
    assertEquals(fakes.started[0].requests, []);
  });
});

Deno.test("aborting a compile kills its worker and rejects with the reason", async () => {
  const fakes = new FakeWorkers(() => new Promise(() => {}));
  await withCompiler(fakes, async (compiler) => {
    const cancel = new AbortController();
    const result = compile(compiler, invocation(["-c", "A.hs"]), new CollectingSink(), cancel.signal)
      .catch((e) => e);
    while (fakes.started[0].requests.length === 0) await new Promise((r) => setTimeout(r, 1));
    cancel.abort(new Error("client gone"));
    assertEquals((await result).message, "client gone");
    assert(fakes.started[0].exited);
  });
});
