/**
 * What bounds a worker's memory (lib/plugin/Ghcpw/Warm.hs, lib/plugin/Ghcpw/Memory.hs): it keeps at most
 * two interface sets, the least recently used going first, and after a compile that needed a large heap it
 * gives the memory back; `ghcpw status` shows both. One worker (`-n 1`), real GHC.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { GHC, ghcpw, run, serverStatus, startServer, writeTree } from "../support/helpers.ts";
import { inspectGhc } from "../../lib/ghc/installation.ts";
import type { WorkerHoldings } from "../../lib/pool/worker.ts";

/** The only worker's holdings as `ghcpw status` reports them. */
async function worker(socket: string): Promise<WorkerHoldings> {
  const workers = (await serverStatus(socket)).workers as WorkerHoldings[];
  assertEquals(workers.length, 1);
  return workers[0];
}

async function warmHits(socket: string): Promise<number> {
  // deno-lint-ignore no-explicit-any
  return ((await serverStatus(socket)) as any).totals.warmHits;
}

// Interface sets are kept only with `interfaces` in the share setting, whatever $GHCPW_SHARE says.
const SHARE_ALL = { GHCPW_SHARE: "all" };

Deno.test("a worker keeps two interface sets at most, dropping the least recently used", async () => {
  const server = await startServer(["-n", "1", "--share", "all"]);
  try {
    // Each directory has a package database of its own (as cabal's in-place one), so each is a key.
    const keys = ["a", "b", "c"];
    const { ghcPkg } = await inspectGhc(GHC);
    for (const k of keys) {
      await writeTree(`${server.dir}/${k}`, {
        "M.hs":
          "module M where\nimport qualified Data.Map as Map\nm :: Map.Map Int Int\nm = Map.fromList [(1, 2)]\n",
      });
      assertEquals((await run(ghcPkg, ["init", `${server.dir}/${k}/db`])).code, 0);
    }
    const compile = async (k: string) => {
      const r = await ghcpw(
        server.socket,
        ["-c", "-fforce-recomp", "-package-db", `${server.dir}/${k}/db`, "M.hs"],
        `${server.dir}/${k}`,
        SHARE_ALL,
      );
      assertEquals(r.code, 0, r.stderr);
      return await worker(server.socket);
    };
    const holdings: WorkerHoldings[] = [];
    for (const k of ["a", "b", "a", "c"]) holdings.push(await compile(k));
    assertEquals(holdings.map((h) => h.interfaceSets), [1, 2, 2, 2]);
    for (const h of holdings) assert(h.interfaces <= 500, `${h.interfaces} interfaces kept`);
    // Where sets hold interfaces (on GHC 9.0 a compile that writes interfaces loads its own), the one
    // dropped for c was b's, used less recently than a's.
    if ((await worker(server.socket)).interfaces > 0) {
      const before = await warmHits(server.socket);
      await compile("a");
      assertEquals(await warmHits(server.socket), before + 1, "a's interfaces were dropped");
      await compile("b");
      assertEquals(await warmHits(server.socket), before + 1, "b's interfaces were kept");
    }
  } finally {
    await server.stop();
  }
});

Deno.test("after a compile that needed a large heap, the worker gives the memory back", async () => {
  const server = await startServer(["-n", "1"]);
  try {
    // The list is used twice, so all of it is live at once: some 160 MB, a heap of twice that to copy it.
    await writeTree(server.dir, {
      "Big.hs": `{-# LANGUAGE TemplateHaskell #-}
module Big where
import Control.Exception (evaluate)
import Language.Haskell.TH (runIO)

$(runIO (do
  let xs = [1 .. 4000000 :: Int]
  _ <- evaluate (sum xs + length xs)
  pure []))
`,
    });
    const r = await ghcpw(server.socket, ["-c", "Big.hs"], server.dir);
    assertEquals(r.code, 0, r.stderr);
    const { heap } = await worker(server.socket);
    assert(heap !== null, "the worker reported no heap");
    assert(heap.bytes < 200 * 2 ** 20, `the heap is ${heap.bytes} bytes after the request`);
    assert(heap.collectedMs !== null, "the worker did not collect its heap after the request");
  } finally {
    await server.stop();
  }
});
