/**
 * What a compile does to its own process stays with it: splices that close stdout or stderr get exactly
 * plain ghc's result, and the worker lives on to serve the next compile; a compile that ends its worker
 * itself is not run again on another worker (which it would end too), and strict mode's message says so.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  assertSameOutputs,
  assertSameRun,
  GHC,
  ghc,
  ghcpw,
  type Run,
  startServer,
} from "../support/helpers.ts";
import { assertHealthy, statusOf, twinTrees } from "../support/service.ts";

/** A module whose splice runs `io` (System.IO, System.Exit and System.Posix.Process in scope). */
function spliceModule(name: string, io: string, extra = ""): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} (x) where

import Language.Haskell.TH.Syntax (lift, runIO)
import System.Exit
import System.IO
import System.Posix.Process (exitImmediately)

x :: Int
x = $(runIO (${io}) >> lift (1 :: Int))
${extra}`;
}

const MODULES = {
  "CloseOut.hs": spliceModule("CloseOut", 'putStrLn "before" >> hClose stdout'),
  "QuietOut.hs": spliceModule("QuietOut", "hClose stdout"),
  "CloseErr.hs": spliceModule(
    "CloseErr",
    'hPutStrLn stderr "before" >> hClose stderr',
    'y :: Int\ny = "a type error"\n',
  ),
  "QuietErr.hs": spliceModule("QuietErr", "hClose stderr"),
  "AfterOut.hs": "module AfterOut where\n\nimport QuietOut\n\ny :: Int\ny = x + 1\n",
  "AfterErr.hs": 'module AfterErr where\n\nimport QuietErr\n\ny :: Int\ny = x + "a type error"\n',
  "Exits.hs": spliceModule("Exits", "exitImmediately (ExitFailure 3)"),
};

// deno-lint-ignore no-explicit-any
type Status = any;

/** How long plain ghc may take on these small modules before it counts as hung. */
const PLAIN_GHC_LIMIT_MS = 30_000;

/** Plain ghc, or null if it has not finished within `ms` (then it is killed). */
async function ghcWithin(ms: number, args: string[], cwd: string): Promise<Run | null> {
  const child = new Deno.Command(GHC, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const out = await child.output();
  clearTimeout(timer);
  if (out.signal === "SIGKILL") return null;
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("splices that close stdout or stderr: ghc's result, and the worker serves on", async (t) => {
  // Two workers: a retry would have one to kill.
  const server = await startServer(["-n", "2"]);
  try {
    const cases: [string, string[]][] = [
      ["-c, a splice prints, then closes stdout", ["-c", "CloseOut.hs"]],
      ["-c, a splice closes stdout", ["-c", "QuietOut.hs"]],
      ["-c, a splice prints, then closes stderr; a type error follows", ["-c", "CloseErr.hs"]],
      ["-c, a splice closes stderr", ["-c", "QuietErr.hs"]],
      ["--make, ghc's progress after stdout was closed", ["--make", "-no-link", "AfterOut.hs"]],
      ["--make, a type error after stderr was closed", ["--make", "-no-link", "AfterErr.hs"]],
    ];
    let served = 0;
    for (const [name, args] of cases) {
      await t.step(name, async () => {
        const trees = await twinTrees(MODULES);
        const expected = await ghcWithin(PLAIN_GHC_LIMIT_MS, args, trees.cold);
        if (expected === null) {
          // GHC 9.6 and 9.10 themselves hang in --make once a splice has closed stderr; a worker, being the
          // same code, would too, until the request timeout.
          console.log(`plain ghc did not finish within ${PLAIN_GHC_LIMIT_MS / 1000} s: nothing to compare`);
          return;
        }
        served++;
        assertSameRun(await ghcpw(server.socket, args, trees.warm), expected);
        await assertSameOutputs(trees.cold, trees.warm, [".hi"]);
      });
    }
    const status: Status = await statusOf(server.socket);
    assertEquals(
      [status.pool.workerFailures, status.pool.retries, status.pool.workersStarted],
      [0, 0, 2],
      "a worker was lost",
    );
    assertEquals(status.totals.requests, served);
    // The very workers that served those compiles serve the next ones exactly as ghc.
    await assertHealthy(server.socket, 2);
    await assertHealthy(server.socket, 2);
    assertEquals((await statusOf(server.socket) as Status).pool.workersStarted, 2);
  } finally {
    await server.stop();
  }
});

Deno.test("a compile that ends its worker is not run again on another; strict mode says why", async () => {
  const server = await startServer(["-n", "2"]);
  try {
    const trees = await twinTrees(MODULES);
    const args = ["-c", "Exits.hs"];
    const strict = await ghcpw(server.socket, args, trees.warm);
    assertEquals(strict.code, 2);
    let status: Status = await statusOf(server.socket);
    // One worker ended, one replacement; no second worker tried.
    assertEquals([status.pool.workerFailures, status.pool.retries], [1, 0]);
    assertMatch(
      strict.stderr,
      new RegExp(
        "^ghcpw: the server could not serve the request: GHC worker \\d+ closed its channel mid-request " +
          "\\(exit code 3\\); the compile ended or broke its GHC worker itself \\(GHC, Template Haskell " +
          "or a plugin it ran\\), so it is not run again on another\\n" +
          "ghcpw: GHCPW_STRICT is set, so ghc is not run directly\\.\\n$",
      ),
    );
    // Not strict: the client runs plain ghc, which ends the same way.
    assertSameRun(
      await ghcpw(server.socket, args, trees.warm, { GHCPW_STRICT: "" }),
      await ghc(args, trees.cold),
    );
    status = await statusOf(server.socket);
    assertEquals([status.pool.workerFailures, status.pool.retries], [2, 0]);
    await assertHealthy(server.socket, 2);
    assertEquals((await statusOf(server.socket) as Status).pool.workersStarted, 4);
  } finally {
    await server.stop();
  }
});
