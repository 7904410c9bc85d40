/**
 * What a compile creates gets the client's umask, as it would from a ghc the client started: through one
 * server that runs with another umask, for compiles a worker serves, for those the server runs on the
 * real ghc and for outputs an incremental build restores, and whatever an earlier compile's splice did to
 * the worker's umask.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { assertSameRun, GHC, type Run, run } from "../support/helpers.ts";
import { statusOf, twinTrees, waitFor } from "../support/service.ts";
import { answers } from "../../lib/client/autostart.ts";
import { killAndWait } from "../../lib/process/kill.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The command line that runs `cmd args` with umask `mask` (a shell sets it, then becomes the command). */
function withUmask(mask: number, cmd: string, args: string[]): [string, string[]] {
  return ["/bin/sh", ["-c", 'umask "$1" && shift && exec "$@"', "sh", mask.toString(8), cmd, ...args]];
}

/** Runs `cmd args` in `cwd` with umask `mask`. */
function runWithUmask(mask: number, cwd: string, cmd: string, args: string[]): Promise<Run> {
  const [shell, shellArgs] = withUmask(mask, cmd, args);
  return run(shell, shellArgs, { cwd, env: { GHCPW_STRICT: "1" } });
}

/** The permission bits of everything under `dir` (files and directories), by relative path. */
async function modesOf(dir: string, prefix = ""): Promise<Record<string, string>> {
  const modes: Record<string, string> = {};
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    modes[rel] = ((await Deno.lstat(`${dir}/${rel}`)).mode! & 0o7777).toString(8);
    if (entry.isDirectory) Object.assign(modes, await modesOf(dir, rel));
  }
  return modes;
}

/**
 * Compiles `args` with plain ghc in the cold tree and through ghcpw in the warm one, both with `mask`;
 * `output: false` compares exit codes only (an incremental build that restored modules leaves out their
 * progress lines).
 */
async function assertSameModes(
  socket: string,
  trees: { cold: string; warm: string },
  mask: number,
  args: string[],
  output = true,
): Promise<void> {
  const expected = await runWithUmask(mask, trees.cold, GHC, args);
  const actual = await runWithUmask(mask, trees.warm, "deno", [
    "run",
    "-A",
    `${ROOT}/main.ts`,
    "ghc",
    "--socket",
    socket,
    "--ghc",
    GHC,
    "--",
    ...args,
  ]);
  if (output) assertSameRun(actual, expected);
  else assertEquals(actual.code, expected.code, actual.stderr);
  assertEquals(await modesOf(trees.warm), await modesOf(trees.cold), `umask ${mask.toString(8)}: ${args}`);
}

Deno.test("outputs get the client's umask, not the server's nor one a splice set before", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "gpw-umask-" });
  const socket = `${dir}/s.sock`;
  // A server with a umask no client here has, as one auto-started by some other client would keep its.
  const [shell, shellArgs] = withUmask(0, "deno", [
    "run",
    "-A",
    `${ROOT}/main.ts`,
    "serve",
    "--socket",
    socket,
    "--ghc",
    GHC,
    "-n",
    "1",
  ]);
  const server = new Deno.Command(shell, { args: shellArgs, stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
  try {
    await waitFor("the server to answer", () => answers(socket), 180_000, 50);
    for (const mask of [0o077, 0o022, 0o002]) {
      await t.step(`umask ${mask.toString(8).padStart(3, "0")}`, async () => {
        const trees = await twinTrees({
          "A.hs": "module A where\n\na :: Int\na = 1\n",
          "B.hs": "module B where\n\nb :: Int\nb = 2\n",
          "C.hs": "module C where\n\nimport A\n\nc :: Int\nc = a + 1\n",
        });
        // A worker's one-shot compile; the real ghc run by the server (RTS options); --make creating
        // its output directory.
        await assertSameModes(socket, trees, mask, ["-c", "A.hs"]);
        await assertSameModes(socket, trees, mask, ["-c", "B.hs", "+RTS", "-RTS"]);
        await assertSameModes(socket, trees, mask, [
          "--make",
          "-no-link",
          "-odir",
          "out/o",
          "-hidir",
          "out/hi",
          "C.hs",
        ]);
      });
    }
    await t.step("outputs an incremental build restores get the client's umask too", async () => {
      const trees = await twinTrees({
        "A.hs": "module A where\n\na :: Int\na = 1\n",
        "C.hs": "module C where\n\nimport A\n\nc :: Int\nc = a + 1\n",
      });
      const args = ["--make", "-no-link", "-odir", "out/o", "-hidir", "out/hi", "C.hs"];
      await assertSameModes(socket, trees, 0o022, args);
      const before = await statusOf(socket) as { incremental: { modulesRestored: number } };
      // Emptied output directories: the server puts the saved outputs back itself, directories included.
      for (const tree of [trees.cold, trees.warm]) await Deno.remove(`${tree}/out`, { recursive: true });
      await assertSameModes(socket, trees, 0o077, args, false);
      const after = await statusOf(socket) as { incremental: { modulesRestored: number } };
      assert(after.incremental.modulesRestored > before.incremental.modulesRestored, "nothing was restored");
    });
    await t.step("a splice that sets the umask sets it for its own compile only", async () => {
      const trees = await twinTrees({
        "S.hs": `{-# LANGUAGE TemplateHaskell #-}
module S (s) where

import Language.Haskell.TH.Syntax (lift, runIO)
import System.Posix.Files (setFileCreationMask)

s :: Int
s = $(runIO (setFileCreationMask 0o077) >> lift (1 :: Int))
`,
        "T.hs": "module T where\n\nt :: Int\nt = 3\n",
      });
      await assertSameModes(socket, trees, 0o022, ["-c", "S.hs"]);
      // The same worker (there is one) serves the next compile with its client's umask.
      await assertSameModes(socket, trees, 0o022, ["-c", "T.hs"]);
    });
  } finally {
    await run("deno", ["run", "-A", `${ROOT}/main.ts`, "stop", "--socket", socket]);
    await killAndWait(server);
    await Deno.remove(dir, { recursive: true });
  }
});
