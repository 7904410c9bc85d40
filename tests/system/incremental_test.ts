/**
 * Incremental `--make` builds (lib/incremental/) against the oracle: a sequence of edits to one target,
 * each built through one server with its output directories emptied first (as Bazel does) and by plain
 * ghc into empty directories. Every step must give the same exit code, the same diagnostics (as a set:
 * replayed warnings come after GHC's own), byte-identical interfaces and a program that behaves the
 * same; the server's counters show that modules really were restored and skipped.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { ghc, ghcpw, type Run, serverStatus, startServer, type TestServer } from "../support/helpers.ts";
import { Twins } from "../support/twins.ts";
import { cacheDir } from "../../lib/address/paths.ts";

const OUT = ["-outputdir", "out", "-o", "bin/prog"];

/** The target: a class and instance, a boot-file cycle, a leaf used by a splice, a splice reading a file. */
const PROJECT: Record<string, string> = {
  "src/Types.hs": "module Types (Shape (..), area) where\n\ndata Shape = Square Int | Rect Int Int\n\n" +
    "area :: Shape -> Int\narea (Square n) = n * n\narea (Rect a b) = a * b\n",
  "src/Describe.hs": "module Describe (Describe (..)) where\n\nimport Types\n\nclass Describe a where\n" +
    '  describe :: a -> String\n\ninstance Describe Shape where\n  describe s = "shape of area " ++ show (area s)\n',
  "src/Leaf.hs": "module Leaf (leaf) where\n\nimport Data.List (sort)\n\nleaf :: Int\nleaf = 3\n",
  "src/Warn.hs": "module Warn (warned) where\n\nimport Data.Maybe\nimport Leaf\n\nwarned = leaf + 1\n",
  "src/Cyc.hs-boot": "module Cyc where\n\ncycBase :: Int\n",
  "src/CycUser.hs": "module CycUser (userValue) where\n\nimport {-# SOURCE #-} Cyc\n\nuserValue :: Int\n" +
    "userValue = cycBase + 1\n",
  "src/Cyc.hs": "module Cyc (cycBase, cycTotal) where\n\nimport CycUser\n\ncycBase :: Int\ncycBase = 40\n\n" +
    "cycTotal :: Int\ncycTotal = userValue\n",
  "src/Splice.hs": "{-# LANGUAGE TemplateHaskell #-}\nmodule Splice (spliced) where\n\nimport Leaf\n" +
    "import Language.Haskell.TH.Syntax (lift)\n\nspliced :: Int\nspliced = $(lift (leaf * 10))\n",
  "src/ReadsFile.hs": "{-# LANGUAGE TemplateHaskell #-}\nmodule ReadsFile (contents) where\n\n" +
    "import Language.Haskell.TH.Syntax (lift, runIO)\n\ncontents :: String\n" +
    'contents = $(runIO (readFile "data.txt") >>= lift)\n',
  "src/Main.hs": "module Main (main) where\n\nimport Cyc\nimport Describe\nimport Leaf\nimport ReadsFile\n" +
    "import Splice\nimport Types\nimport Warn\n\nmain :: IO ()\nmain = do\n  print (leaf, warned, spliced, cycTotal)\n" +
    "  putStrLn (describe (Rect 2 3))\n  putStr contents\n",
  "data.txt": "first\n",
};

const SOURCES = [
  "src/Main.hs",
  "src/Types.hs",
  "src/Describe.hs",
  "src/Leaf.hs",
  "src/Warn.hs",
  "src/CycUser.hs",
  "src/Cyc.hs",
  "src/Splice.hs",
  "src/ReadsFile.hs",
];

/** GHC's diagnostics on stderr as a set: each message (GHC prints a blank line before each). */
function diagnosticSet(stderr: string): string[] {
  return stderr.split(/\n\s*\n/).map((m) => m.trim()).filter((m) => m !== "").sort();
}

interface Counters {
  builds: number;
  hits: number;
  modulesRestored: number;
  modulesRecompiled: number;
  warningsReplayed: number;
}

async function counters(server: TestServer): Promise<Counters> {
  return (await serverStatus(server.socket)).incremental as Counters;
}

/** Empties the output directories of a tree, as Bazel does before every action. */
async function emptyOutputs(tree: string): Promise<void> {
  for (const dir of ["out", "bin"]) {
    await Deno.remove(`${tree}/${dir}`, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${tree}/${dir}`, { recursive: true });
  }
}

/**
 * One step: cold ghc and ghcpw from emptied directories; same exit code, diagnostics, interfaces and
 * program. Resolves to what the step changed in the server's counters.
 */
async function step(
  twins: Twins,
  server: TestServer,
  args: string[],
  expectCode = 0,
): Promise<{ warm: Run; delta: Counters }> {
  await emptyOutputs(twins.cold);
  await emptyOutputs(twins.warm);
  const before = await counters(server);
  const cold = await ghc(args, twins.cold);
  const warm = await ghcpw(server.socket, args, twins.warm);
  const after = await counters(server);
  assertEquals(cold.code, expectCode, `cold ghc:\n${cold.stderr}`);
  assertEquals(warm.code, cold.code, `ghcpw:\n${warm.stderr}`);
  assertEquals(diagnosticSet(warm.stderr), diagnosticSet(cold.stderr));
  await twins.sameOutputs([".hi", ".dyn_hi", ".hi-boot", ".dyn_hi-boot"]);
  if (cold.code === 0) await twins.sameProgram("bin/prog");
  const delta = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, (v as number) - (before[k as keyof Counters] as number)]),
  ) as unknown as Counters;
  return { warm, delta };
}

Deno.test("incremental --make: an edit sequence gives what a cold build into empty directories gives", async (t) => {
  // A cache of the test's own, so counts and the size are this test's; the plugin build is shared.
  const cache = await Deno.makeTempDir({ prefix: "ghcpw-inc-cache-" });
  await Deno.mkdir(`${cache}/ghcpw`);
  await Deno.symlink(`${cacheDir()}/plugins`, `${cache}/ghcpw/plugins`).catch(() => {});
  await Deno.mkdir(`${cacheDir()}/plugins`, { recursive: true });
  const server = await startServer(["--incremental"], { XDG_CACHE_HOME: cache });
  const twins = await Twins.create(server, PROJECT, "ghcpw-inc-");
  let sources = [...SOURCES];
  const args = () => ["--make", "-Wall", ...OUT, ...sources];
  try {
    await t.step("first build: nothing saved yet", async () => {
      const { delta } = await step(twins, server, args());
      assertEquals(delta.builds, 1);
      assertEquals(delta.modulesRestored, 0);
    });
    await t.step("no change: every module without splices restored, warnings replayed", async () => {
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 7);
      // Only the two modules with splices are compiled again.
      assertEquals(delta.modulesRecompiled, 2);
      assert(delta.warningsReplayed > 0, "Warn's warnings were not replayed");
    });
    await t.step("body edit of a leaf used by a splice", async () => {
      await twins.write({ "src/Leaf.hs": PROJECT["src/Leaf.hs"].replace("leaf = 3", "leaf = 4") });
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6);
      assert(delta.modulesRecompiled < 9, `recompiled ${delta.modulesRecompiled}`);
    });
    await t.step("export added", async () => {
      await twins.write({
        "src/Types.hs": PROJECT["src/Types.hs"].replace("area) where", "area, sides) where") +
          "\nsides :: Shape -> Int\nsides _ = 4\n",
      });
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6);
    });
    await t.step("export removed: dependents fail exactly as cold", async () => {
      await twins.write({ "src/Types.hs": PROJECT["src/Types.hs"].replace("area) where", ") where") });
      await step(twins, server, args(), 1);
      await twins.write({ "src/Types.hs": PROJECT["src/Types.hs"] });
      await step(twins, server, args());
    });
    await t.step("instance changed", async () => {
      await twins.write({
        "src/Describe.hs": PROJECT["src/Describe.hs"].replace("shape of area", "a shape of area"),
      });
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6);
    });
    await t.step("module added", async () => {
      await twins.write({
        "src/Extra.hs": "module Extra (extra) where\n\nextra :: Int\nextra = 99\n",
        "src/Main.hs": PROJECT["src/Main.hs"].replace("import Warn\n", "import Warn\nimport Extra\n")
          .replace("cycTotal)", "cycTotal, extra)"),
      });
      sources = [...sources, "src/Extra.hs"];
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6);
    });
    await t.step("module deleted: its outputs do not come back", async () => {
      await twins.write({ "src/Main.hs": PROJECT["src/Main.hs"] });
      await twins.remove("src/Extra.hs");
      sources = sources.filter((s) => s !== "src/Extra.hs");
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6);
    });
    await t.step("module deleted but still imported: fails as cold", async () => {
      await twins.write({
        "src/Main.hs": PROJECT["src/Main.hs"].replace("import Warn\n", "import Warn\nimport Extra\n"),
      });
      await step(twins, server, args(), 1);
      await twins.write({ "src/Main.hs": PROJECT["src/Main.hs"] });
    });
    await t.step("boot file changed", async () => {
      await twins.write({
        "src/Cyc.hs-boot": PROJECT["src/Cyc.hs-boot"] + "\ncycExtra :: Int\n",
        "src/Cyc.hs": PROJECT["src/Cyc.hs"].replace("cycBase, cycTotal)", "cycBase, cycExtra, cycTotal)") +
          "\ncycExtra :: Int\ncycExtra = 2\n",
      });
      const { delta } = await step(twins, server, args());
      assert(delta.modulesRestored >= 4, `restored ${delta.modulesRestored}`);
    });
    await t.step("Template Haskell reading a file: the edited file is read again", async () => {
      await twins.write({ "data.txt": "second\n" });
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 7);
    });
    await t.step("a -W flag changed: nothing restored, warnings as cold", async () => {
      const { delta } = await step(twins, server, [
        "--make",
        "-Wall",
        "-Wno-unused-imports",
        ...OUT,
        ...sources,
      ]);
      assertEquals(delta.modulesRestored, 0);
      const again = await step(twins, server, ["--make", "-Wall", "-Wno-unused-imports", ...OUT, ...sources]);
      assertEquals(again.delta.modulesRestored, 7);
    });
    await t.step("-fforce-recomp restores nothing", async () => {
      const { delta } = await step(twins, server, ["--make", "-Wall", "-fforce-recomp", ...OUT, ...sources]);
      assertEquals(delta.builds, 0);
      assertEquals(delta.modulesRestored, 0);
    });
    await t.step("GHCPW_INCREMENTAL=0 turns it off for one invocation", async () => {
      await emptyOutputs(twins.warm);
      const before = await counters(server);
      const r = await ghcpw(server.socket, args(), twins.warm, { GHCPW_INCREMENTAL: "0" });
      assertEquals(r.code, 0, r.stderr);
      assertEquals((await counters(server)).builds, before.builds);
    });
    await t.step("corrupt cache files are ignored: the build is correct, just not incremental", async () => {
      const blobs = `${cache}/ghcpw/incremental/blobs`;
      for await (const dir of Deno.readDir(blobs)) {
        for await (const f of Deno.readDir(`${blobs}/${dir.name}`)) {
          await Deno.truncate(`${blobs}/${dir.name}/${f.name}`, 1);
        }
      }
      const { delta } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 0);
      for await (const f of Deno.readDir(`${cache}/ghcpw/incremental/entries`)) {
        const path = `${cache}/ghcpw/incremental/entries/${f.name}`;
        await Deno.writeTextFile(path, (await Deno.readTextFile(path)).slice(0, 100));
      }
      const again = await step(twins, server, args());
      assertEquals(again.delta.modulesRestored, 0);
      const third = await step(twins, server, args());
      assertEquals(third.delta.modulesRestored, 7);
    });
  } finally {
    await server.stop();
    await Deno.remove(cache, { recursive: true }).catch(() => {});
    await Deno.remove(`${twins.cold}/..`, { recursive: true }).catch(() => {});
  }
});
