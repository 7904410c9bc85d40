/**
 * Byte-identical objects (`--share` without `names`): a worker that keeps no name cache restarts GHC's
 * unique counter for every request, so its `.o` and `.dyn_o` files equal a cold ghc's byte for byte even
 * after it has served other compiles. With the default setting the objects differ, but only in local
 * symbol names: the symbols other objects link against are the same.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { MODULE_ORDER, project } from "../support/fixtures.ts";
import { listFiles, run, serverStatus, startServer } from "../support/helpers.ts";
import { sameBytes } from "../../scripts/output_compare.ts";
import { Twins } from "../support/twins.ts";

const OUTPUTS = [".o", ".dyn_o", ".hi", ".dyn_hi"];

/** Builds the fixture project module by module, then again from scratch, through the same server. */
async function buildTwice(trees: Twins, env: Record<string, string>): Promise<void> {
  for (const round of [[], ["-fforce-recomp"]]) {
    for (const module of MODULE_ORDER) {
      await trees.ok(["-c", "-dynamic-too", ...round, `${module}.hs`], env);
    }
  }
}

/** The symbols an object defines for others (`nm --extern-only --defined-only`). */
async function globalSymbols(file: string): Promise<string> {
  const r = await run("nm", ["--extern-only", "--defined-only", file]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test("--share databases: every .o and .dyn_o is byte-identical to cold ghc's", async (t) => {
  const env = { GHCPW_SHARE: "databases" };
  const server = await startServer(["-n", "1", "--share", "databases"]);
  try {
    await t.step("one-shot -c, twice over, after other compiles", async () => {
      const trees = await Twins.create(server, project());
      await buildTwice(trees, env);
      const objects = (await listFiles(trees.cold)).filter((f) => /\.(dyn_)?o$/.test(f));
      assertEquals(objects.length, 2 * MODULE_ORDER.length);
      await trees.sameOutputs(OUTPUTS);
    });

    await t.step("--make", async () => {
      const trees = await Twins.create(server, project());
      await trees.ok(["--make", "-no-link", "-dynamic-too", "Main.hs"], env);
      await trees.sameOutputs(OUTPUTS);
    });

    await t.step("the worker says what it keeps: databases, and no interfaces", async () => {
      // deno-lint-ignore no-explicit-any
      const workers = (await serverStatus(server.socket)).workers as any[];
      assertEquals(workers.length, 1);
      assertEquals(workers[0].share, "databases");
      assertEquals([workers[0].interfaceSets, workers[0].interfaces], [0, 0]);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("a client on the default setting does not reach a server that keeps no names", async () => {
  const server = await startServer(["-n", "1", "--share", "none"]);
  try {
    const trees = await Twins.create(server, project());
    const r = await run(
      "deno",
      [
        "run",
        "-A",
        new URL("../../main.ts", import.meta.url).pathname,
        "ghc",
        "--socket",
        server.socket,
        "--share",
        "all",
        "--",
        "-c",
        "Shapes/Types.hs",
      ],
      { cwd: trees.warm, env: { GHCPW_STRICT: "1" } },
    );
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, /key/);
  } finally {
    await server.stop();
  }
});

Deno.test("the default setting: objects differ from cold ghc's only in local symbols", async () => {
  const env = { GHCPW_SHARE: "all" };
  const server = await startServer(["-n", "1", "--share", "all"]);
  try {
    const trees = await Twins.create(server, project());
    await buildTwice(trees, env);
    await trees.sameOutputs([".hi", ".dyn_hi"]);
    let differing = 0;
    for (const file of (await listFiles(trees.cold)).filter((f) => /\.(dyn_)?o$/.test(f))) {
      if (await sameBytes(`${trees.cold}/${file}`, `${trees.warm}/${file}`)) continue;
      differing++;
      assertEquals(
        await globalSymbols(`${trees.warm}/${file}`),
        await globalSymbols(`${trees.cold}/${file}`),
        `${file}: global symbols`,
      );
    }
    assert(differing > 0, "a worker keeping its name cache wrote objects identical to cold ghc's");
  } finally {
    await server.stop();
  }
});
