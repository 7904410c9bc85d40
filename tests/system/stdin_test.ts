/**
 * A splice that reads stdin. Through a server it reads /dev/null, whatever the client's stdin is (the
 * client does not forward it: README, "What it does, exactly"): so it gets what plain ghc gets from
 * /dev/null, on every request of a worker, never waits, and leaves the client's stdin to whatever reads it
 * next. Without a server, the client runs ghc on its own stdin, as plain ghc.
 */

import { assertEquals } from "../support/assert.ts";
import {
  assertSameRun,
  clientCommand,
  GHC,
  ghc,
  ghcpw,
  type Run,
  run,
  startServer,
} from "../support/helpers.ts";
import { twinTrees } from "../support/service.ts";
import { withTimeout } from "../../lib/timeout.ts";
import { killAndWait } from "../../lib/process/kill.ts";

/** A module whose splice prints what it reads from stdin. */
function stdinModule(name: string): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} (n) where

import Language.Haskell.TH.Syntax (lift, runIO)

n :: Int
n = $(runIO (getContents >>= \\s -> putStrLn ("${name} read " ++ show s)) >> lift (1 :: Int))
`;
}

const MODULES = ["S1", "S2", "S3"];

/** `command` with `data` on its stdin through a pipe, followed by `cat`: what was left of the data. */
function withPipedInput(dir: string, data: string, command: string[]): Promise<Run> {
  return run("sh", ["-c", `printf %s "$1" | { shift; "$@"; echo "exit $?"; cat; }`, "sh", data, ...command], {
    cwd: dir,
    env: { GHCPW_STRICT: "1" },
  });
}

Deno.test("a splice reading stdin through a server reads /dev/null, every time, and leaves the client's stdin alone", async (t) => {
  const server = await startServer(["-n", "1"]);
  try {
    const files = Object.fromEntries(MODULES.map((m) => [`${m}.hs`, stdinModule(m)]));
    await t.step("stdin at /dev/null: ghc's result, request after request on one worker", async () => {
      const trees = await twinTrees(files);
      for (const m of MODULES) {
        const args = ["-c", "-fforce-recomp", `${m}.hs`];
        assertSameRun(await ghcpw(server.socket, args, trees.warm), await ghc(args, trees.cold));
      }
    });

    await t.step("stdin a pipe with data: read as /dev/null, the data left for the next reader", async () => {
      const trees = await twinTrees(files);
      // Compiled more than once in a tree: forced, or GHC 9.4 and later find it up to date.
      const args = ["-c", "-fforce-recomp", "S1.hs"];
      const actual = await withPipedInput(trees.warm, "some input", clientCommand(server.socket, args));
      const nullInput = await ghc(args, trees.cold);
      assertEquals(actual.stdout, `${nullInput.stdout}exit 0\nsome input`);
      assertEquals(actual.stderr, nullInput.stderr);
      // Plain ghc in the same place reads the data itself (the documented difference).
      const plain = await withPipedInput(trees.cold, "some input", [GHC, ...args]);
      assertEquals(plain.stdout, 'S1 read "some input"\nexit 0\n');
    });

    await t.step("stdin a pipe that never ends: the compile does not wait on it", async () => {
      const trees = await twinTrees(files);
      const [cmd, ...rest] = clientCommand(server.socket, ["-c", "S2.hs"]);
      const child = new Deno.Command(cmd, {
        args: rest,
        cwd: trees.warm,
        env: { GHCPW_STRICT: "1" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // The writer stays open for the whole compile.
      const writer = child.stdin.getWriter();
      try {
        const [status, stdout, stderr] = await withTimeout(
          Promise.all([child.status, new Response(child.stdout).text(), new Response(child.stderr).text()]),
          60_000,
          () => new Error("the compile waited on stdin"),
        );
        assertSameRun({ code: status.code, stdout, stderr }, await ghc(["-c", "S2.hs"], trees.cold));
      } finally {
        await writer.close().catch(() => {});
        await killAndWait(child);
      }
    });
  } finally {
    await server.stop();
  }
});

Deno.test("without a server, the client's stdin reaches the splice, as with plain ghc", async () => {
  const trees = await twinTrees({ "S1.hs": stdinModule("S1") });
  const args = ["-c", "S1.hs"];
  const socket = `${trees.warm}/nobody-listens.sock`;
  const client = clientCommand(socket, args);
  const actual = await run("sh", ["-c", 'printf %s "$1" | { shift; "$@"; }', "sh", "typed", ...client], {
    cwd: trees.warm,
  });
  const expected = await run("sh", ["-c", 'printf %s "$1" | { shift; "$@"; }', "sh", "typed", GHC, ...args], {
    cwd: trees.cold,
  });
  assertSameRun(actual, expected);
  assertEquals(expected.stdout, 'S1 read "typed"\n');
});
