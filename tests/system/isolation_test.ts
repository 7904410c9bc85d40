/**
 * Nothing a finished compile left running reaches a later compile: the external interpreter
 * (lib/plugin/Ghcpw/Leftovers.hs). One worker (`-n 1`), so every compile meets the same process; results
 * are compared with plain ghc.
 */

import { assertEquals } from "../support/assert.ts";
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

const LIBDIR = (await run(GHC, ["--print-libdir"])).stdout.trim();

interface PoolStatus {
  workers: { pid: number }[];
  pool: { recycled: Record<string, number> };
}

async function status(socket: string): Promise<PoolStatus> {
  return await serverStatus(socket) as unknown as PoolStatus;
}

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
    assertEquals(after.pool.recycled.failure, 0);
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
