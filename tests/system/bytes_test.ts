/**
 * Bytes that are not UTF-8, where the platform carries bytes: an environment variable's value reaches ghc
 * through a worker, through the client's fallback and through the server's direct path (which hands such
 * an invocation back to the client, the only one that can pass it on); a working directory whose name is
 * not UTF-8 falls back to plain ghc there, with ghc's results; a response file that is not UTF-8 is read
 * by the real ghc itself. (Arguments that are not UTF-8 Deno itself refuses: README.)
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  assertSameOutputs,
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

/** A value that is not UTF-8 (two bytes that never occur in it, then ASCII), as printf writes it. */
const RAW_VALUE = "\\377\\376x";

/** `command` with GHCPW_TEST_RAW set to {@linkcode RAW_VALUE}, in `dir` (printf's octal escapes allowed). */
function withRawEnv(dir: string, command: string[], env: Record<string, string> = {}): Promise<Run> {
  return run("sh", ["-c", `GHCPW_TEST_RAW="$(printf '${RAW_VALUE}')" exec "$@"`, "sh", ...command], {
    cwd: dir,
    env: { LANG: "C.UTF-8", ...env },
  });
}

/** A module whose splice prints how it sees GHCPW_TEST_RAW (show escapes the undecodable bytes). */
const ENV_MODULE = `{-# LANGUAGE TemplateHaskell #-}
module E (e) where

import Language.Haskell.TH.Syntax (lift, runIO)
import System.Environment (lookupEnv)

e :: Int
e = $(runIO (lookupEnv "GHCPW_TEST_RAW" >>= print) >> lift (1 :: Int))
`;

/** Compiled again in the same tree, so forced (GHC 9.4 and later would find E up to date). */
const COMPILE = ["-c", "-fforce-recomp", "E.hs"];

const EVAL = ["-e", 'System.Environment.lookupEnv "GHCPW_TEST_RAW" >>= print'];

Deno.test("an environment variable that is not UTF-8 reaches ghc on every path", async (t) => {
  const server = await startServer(["-n", "1"]);
  try {
    const trees = await twinTrees({ "E.hs": ENV_MODULE });
    const nobody = `${trees.warm}/nobody-listens.sock`;
    const expected = await withRawEnv(trees.cold, [GHC, ...COMPILE]);
    // The bytes themselves, as GHC's file-system encoding gives back what it cannot decode.
    assertEquals(expected.stdout, 'Just "\\56575\\56574x"\n');
    await t.step("through a worker", async () => {
      const actual = await withRawEnv(trees.warm, clientCommand(server.socket, COMPILE), {
        GHCPW_STRICT: "1",
      });
      assertSameRun(actual, expected);
      await assertSameOutputs(trees.cold, trees.warm, [".hi"]);
    });
    await t.step("through the client's fallback", async () => {
      assertSameRun(await withRawEnv(trees.warm, clientCommand(nobody, COMPILE)), expected);
    });
    await t.step("through the server's direct path: handed back to the client", async () => {
      const plain = await withRawEnv(trees.cold, [GHC, ...EVAL]);
      assertEquals(plain.stdout, 'Just "\\56575\\56574x"\n');
      assertSameRun(await withRawEnv(trees.warm, clientCommand(server.socket, EVAL)), plain);
      // Strict: the server says why it cannot run it, and nothing runs.
      const strict = await withRawEnv(trees.warm, clientCommand(server.socket, EVAL), { GHCPW_STRICT: "1" });
      assertEquals(strict.code, 2);
      assertMatch(strict.stderr, /a variable that is not UTF-8, which only the client can pass on to ghc/);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("a working directory whose name is not UTF-8 falls back to ghc, with ghc's results", async () => {
  const server = await startServer(["-n", "1"]);
  try {
    const files = { "A.hs": "module A where\nf x = x\n" };
    const { cold, warm } = await twinTrees(files);
    const root = cold.slice(0, cold.lastIndexOf("/"));
    // Deno cannot name such a directory: the shell makes it, runs in it, and renames it back.
    const inRawDir = (dir: string, command: string[], env: Record<string, string> = {}) =>
      run("sh", ["-c", `cd "$(printf '%s\\377' "$0")" && exec "$@"`, dir, ...command], { env });
    const rename = (from: string, to: string) =>
      run("sh", ["-c", 'mv "$(printf "$1")" "$(printf "$2")"', "sh", from, to]);
    for (const dir of [cold, warm]) assertEquals((await rename(dir, `${dir}\\377`)).code, 0);
    const args = ["-c", "-Wall", "A.hs"];
    const expected = await inRawDir(cold, [GHC, ...args]);
    assertMatch(expected.stderr, /warning/);
    assertSameRun(await inRawDir(warm, clientCommand(server.socket, args)), expected);
    const strict = await inRawDir(warm, clientCommand(server.socket, args), { GHCPW_STRICT: "1" });
    assertEquals(strict.code, 2);
    assertMatch(strict.stderr, /the working directory's name is not UTF-8/);
    for (const dir of [cold, warm]) assertEquals((await rename(`${dir}\\377`, dir)).code, 0);
    await assertSameOutputs(cold, warm, [".hi"]);
    await Deno.remove(root, { recursive: true });
  } finally {
    await server.stop();
  }
});

Deno.test("a response file that is not UTF-8 is left to the real ghc, which reads it as plain ghc does", async () => {
  const server = await startServer(["-n", "1"]);
  try {
    const { cold, warm } = await twinTrees({ "args.rsp": "" });
    // It names a module whose file name is not UTF-8, which Deno cannot name: the shell makes that.
    const args = new Uint8Array([
      ...new TextEncoder().encode("-c M"),
      0xff,
      ...new TextEncoder().encode(".hs\n"),
    ]);
    const setUp = (dir: string) =>
      run("sh", ["-c", `printf 'module M where\\nm :: Int\\nm = 1\\n' >"$(printf 'M\\377.hs')"`], {
        cwd: dir,
      });
    for (const dir of [cold, warm]) {
      assertEquals((await setUp(dir)).code, 0);
      await Deno.writeFile(`${dir}/args.rsp`, args);
    }
    const env = { LANG: "C.UTF-8" };
    assertSameRun(await ghcpw(server.socket, ["@args.rsp"], warm, env), await ghc(["@args.rsp"], cold, env));
    await assertSameOutputs(cold, warm, [".hi"]);
  } finally {
    await server.stop();
  }
});
