/**
 * Nothing a finished compile left running reaches a later compile: threads a splice forked, processes it
 * started in the background, the external interpreter (lib/plugin/Ghcpw/Leftovers.hs). One worker
 * (`-n 1`), so the later compile meets the same process, unless the first one's leftovers made the
 * server replace it; results are compared with plain ghc.
 */

import { assert, assertEquals } from "../support/assert.ts";
import {
  assertSameOutputs,
  assertSameRun,
  GHC,
  ghc,
  ghcpw,
  run,
  serverStatus,
  startServer,
  writeTree,
} from "../support/helpers.ts";
import { processStat } from "../../lib/process/state.ts";
import { waitFor } from "../support/service.ts";

const MARKER = "LEFTOVER-THREAD-MARKER";

const [VERSION, LIBDIR] = (await Promise.all([
  run(GHC, ["--numeric-version"]),
  run(GHC, ["--print-libdir"]),
])).map((r) => r.stdout.trim());

/** Whether this GHC's RTS can list threads (base 4.18, GHC 9.6), so the worker kills leftovers itself. */
const LISTS_THREADS = (([major, minor]) => major > 9 || (major === 9 && minor >= 6))(
  VERSION.split(".").map(Number),
);

/** A Template Haskell library whose splice forks a thread (wrapped by `wrap`) printing MARKER forever. */
function leakingSplice(wrap: string): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module Leak (leak) where
import Control.Concurrent (forkIO, threadDelay)
import Control.Exception (uninterruptibleMask_)
import Control.Monad (forever)
import Language.Haskell.TH (Dec, Q, runIO)
import System.IO (hPutStrLn, stderr)

leak :: Q [Dec]
leak = do
  _ <- runIO (forkIO (${wrap} (forever (hPutStrLn stderr "${MARKER}" >> threadDelay 10000))))
  pure []
`;
}

const USE_LEAK = `{-# LANGUAGE TemplateHaskell #-}
module UseLeak where
import Leak (leak)
$(leak)
x :: Int
x = 1
`;

/** A module that takes a while to compile, so a leftover thread has time to print into its output. */
const PLAIN = `module Plain where
${
  Array.from({ length: 40 }, (_, i) => `f${i} :: Int -> Int\nf${i} n = n * ${i} + length (show n)`).join("\n")
}
`;

interface PoolStatus {
  workers: { pid: number }[];
  pool: { recycled: Record<string, number>; lastRecycle?: { reason: string; detail: string } };
  lastRecycle: { reason: string; detail: string } | null;
}

async function status(socket: string): Promise<PoolStatus> {
  return await serverStatus(socket) as unknown as PoolStatus;
}

/**
 * Compiles the leaking splice through a one-worker server, then Plain.hs, whose result must equal plain
 * ghc's exactly: no marker. Returns the server's status before and after.
 */
async function leakThenPlain(wrap: string): Promise<{ before: PoolStatus; after: PoolStatus }> {
  const server = await startServer(["-n", "1"]);
  const root = await Deno.makeTempDir({ prefix: "ghcpw-isolation-" });
  try {
    const files = { "Leak.hs": leakingSplice(wrap), "UseLeak.hs": USE_LEAK, "Plain.hs": PLAIN };
    await writeTree(`${root}/warm`, files);
    await writeTree(`${root}/cold`, files);
    // -dynamic-too: one-shot Template Haskell loads the home module Leak's dynamic object.
    for (const args of [["-c", "-dynamic-too", "Leak.hs"], ["-c", "-dynamic-too", "UseLeak.hs"]]) {
      const r = await ghcpw(server.socket, args, `${root}/warm`);
      assertEquals(r.code, 0, r.stderr);
    }
    const before = await status(server.socket);
    // Long enough for a leftover thread to print several times between the compiles.
    await new Promise((r) => setTimeout(r, 100));
    const expected = await ghc(["-c", "Plain.hs"], `${root}/cold`);
    const actual = await ghcpw(server.socket, ["-c", "Plain.hs"], `${root}/warm`);
    assert(
      !actual.stderr.includes(MARKER),
      `a thread of an earlier compile printed into this one:\n${actual.stderr}`,
    );
    assertSameRun(actual, expected);
    return { before, after: await status(server.socket) };
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a thread a splice forked does not print into a later compile on the same worker", async () => {
  const { before, after } = await leakThenPlain("id");
  if (LISTS_THREADS) {
    // The worker killed the thread itself and went on serving.
    assertEquals(after.pool.recycled.leftovers, 0);
    assertEquals(after.workers.map((w) => w.pid), before.workers.map((w) => w.pid));
  } else {
    // Without a list of threads the worker only sees that one more runs, and is replaced.
    assertEquals(after.pool.recycled.leftovers, 1);
    assertEquals(after.lastRecycle?.detail, "leftover threads still running: 1");
  }
});

Deno.test("a worker whose leftover thread cannot be killed is replaced before it serves again", async () => {
  const { after } = await leakThenPlain("uninterruptibleMask_");
  assertEquals(after.pool.recycled.leftovers, 1);
  assertEquals(
    after.lastRecycle?.detail,
    LISTS_THREADS ? "leftover threads that ignore being killed: 1" : "leftover threads still running: 1",
  );
});

Deno.test("processes a splice started in the background end with its compile", async () => {
  const server = await startServer(["-n", "1"]);
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-isolation-" });
  try {
    // One process orphaned at once (its shell exits), one that also leaves the worker's process group
    // and session, and one still the splice's own child.
    await writeTree(dir, {
      "Spawn.hs": `{-# LANGUAGE TemplateHaskell #-}
module Spawn where
import Language.Haskell.TH (runIO)
import System.Process (callCommand, spawnCommand)

$(runIO (do
  callCommand "sleep 300 & echo $! > orphan.pid"
  callCommand "setsid sleep 300 & echo $! > session.pid"
  _ <- spawnCommand "exec sleep 300"
  pure []))
`,
    });
    const r = await ghcpw(server.socket, ["-c", "-package", "process", "Spawn.hs"], dir);
    assertEquals(r.code, 0, r.stderr);
    const pids = await Promise.all(
      ["orphan", "session"].map(async (n) => Number(await Deno.readTextFile(`${dir}/${n}.pid`))),
    );
    // The worker rejoins the pool (or is replaced) once the server's checks after the answer are done.
    let worker: { pid: number } | undefined;
    await waitFor("a worker in the pool", async () => {
      [worker] = (await status(server.socket)).workers;
      return worker !== undefined;
    });
    // Nothing is left, not even a zombie: the worker reaped what it killed.
    for (const pid of pids) assertEquals(processStat(pid), null, `process ${pid} outlived the compile`);
    assertEquals(await childrenOf(worker!.pid), [], "the worker still has children");
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The program GHC runs for -fexternal-interpreter: Debian's GHCs look for it in the wrong place. */
async function interpreterFlags(): Promise<string[]> {
  try {
    await Deno.stat(`${LIBDIR}/bin/ghc-iserv`);
    return [];
  } catch {
    return [`-pgmi`, `${LIBDIR.replace(/\/lib$/, "")}/bin/ghc-iserv`];
  }
}

/** A module whose one splice needs nothing but the template-haskell package. */
function spliceModule(name: string, n: number): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} where
import Language.Haskell.TH (integerL, litE)

x :: Integer
x = $(litE (integerL ${n}))
`;
}

Deno.test("-fexternal-interpreter leaves no zombie interpreter behind its compiles", async () => {
  const server = await startServer(["-n", "1"]);
  const root = await Deno.makeTempDir({ prefix: "ghcpw-isolation-" });
  try {
    const modules = ["A", "B", "C"];
    const files = Object.fromEntries(modules.map((m, i) => [`${m}.hs`, spliceModule(m, 40 + i)]));
    await writeTree(`${root}/cold`, files);
    await writeTree(`${root}/warm`, files);
    const flags = ["-fexternal-interpreter", ...await interpreterFlags()];
    for (const m of modules) {
      const args = ["-c", ...flags, `${m}.hs`];
      const expected = await ghc(args, `${root}/cold`);
      assertEquals(expected.code, 0, expected.stderr);
      assertSameRun(await ghcpw(server.socket, args, `${root}/warm`), expected);
    }
    await assertSameOutputs(`${root}/cold`, `${root}/warm`, [".hi"]);
    const after = await status(server.socket);
    assertEquals(
      await childrenOf(after.workers[0].pid),
      [],
      "the worker still has children (zombie interpreters)",
    );
    // Stopped when each compile ended, not killed as a leftover, and the worker served them all.
    assertEquals(after.pool.recycled.leftovers, 0);
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});

/** A process's children with their state letters, from /proc (every thread's list). */
async function childrenOf(pid: number): Promise<string[]> {
  const children: string[] = [];
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const list = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`).catch(() => "");
    for (const child of list.trim().split(/\s+/).filter((c) => c !== "")) {
      children.push(`${child} (${processStat(Number(child))?.state ?? "gone"})`);
    }
  }
  return children;
}
