/**
 * Module-by-module builds edited between compiles, through ONE worker that has just read the interfaces
 * the edit changes (the situations in which keeping home modules' interfaces would go wrong; the worker
 * keeps none, see README "What a worker keeps"): each step runs plain ghc in a cold tree and the same
 * commands through the worker in a warm twin, and compares exit codes, diagnostics, .hi files and
 * programs.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { serverStatus, startServer } from "../support/helpers.ts";
import { Twins } from "../support/twins.ts";

Deno.test("one-shot compiles after edits give cold ghc's results", async (t) => {
  const server = await startServer(["-n", "1"]);
  try {
    await t.step("a module compiled again after its dependents read its interface", async () => {
      const w = await Twins.create(server, {
        "A.hs": "module A (T (..)) where\ndata T = T Int\ninstance Show T where\n  show (T n) = show n\n",
        "B.hs": "module B (b) where\nimport A\nb :: String\nb = show (T 1)\n",
      });
      for (const m of ["A", "B", "A", "B"]) await w.ok(["-c", "-fforce-recomp", `${m}.hs`]);
      await w.write({
        "A.hs":
          "module A (T (..)) where\ndata T = T Int\ninstance Show T where\n  show (T n) = show (n + 1)\n",
      });
      for (const m of ["A", "B"]) await w.ok(["-c", `${m}.hs`]);
      await w.sameOutputs();
      const workers = (await serverStatus(server.socket)).workers as { requests: number }[];
      assertEquals(workers[0].requests, 6);
    });

    await t.step("an edited dependency whose dependents' interfaces did not change", async () => {
      const w = await Twins.create(server, {
        "A.hs": "module A (f) where\nf :: Int\nf = 1\n",
        "B.hs": "module B (g) where\nimport A (f)\ng :: Int\ng = f + 1\n",
        "Main.hs": "module Main (main) where\nimport A\nimport B\nmain :: IO ()\nmain = print (g, f)\n",
      });
      const build = async () => {
        for (const m of ["A", "B", "Main", "Main"]) await w.ok(["-c", `${m}.hs`]);
        await w.ok(["-o", "prog", "A.o", "B.o", "Main.o"]);
      };
      await build();
      // A gains an export; B imports only f, so GHC finds B up to date and leaves its interface alone.
      await w.write({ "A.hs": "module A (f, h) where\nf :: Int\nf = 1\nh :: Int\nh = 5\n" });
      await w.ok(["-c", "A.hs"]);
      await w.write({
        "Main.hs": "module Main (main) where\nimport A\nimport B\nmain :: IO ()\nmain = print (g, f, h)\n",
      });
      await build();
      await w.sameOutputs();
      assertEquals((await w.sameProgram("prog")).stdout, "(2,1,5)\n");
      // f changes type: B must be recompiled against it, and fails as with ghc.
      await w.write({ "A.hs": 'module A (f, h) where\nf :: String\nf = "1"\nh :: Int\nh = 5\n' });
      await w.ok(["-c", "A.hs"]);
      assertEquals((await w.same(["-c", "B.hs"])).code, 1);
      await w.sameOutputs();
    });

    await t.step("a module replaced by a same-named one earlier on the search path", async () => {
      const w = await Twins.create(server, {
        "b/M.hs": "module M (m) where\nm :: Int\nm = 1\n",
        "Main.hs": "module Main (main) where\nimport M\nmain :: IO ()\nmain = print m\n",
      });
      const path = ["-ia", "-ib"];
      await w.ok(["-c", ...path, "b/M.hs"]);
      await w.ok(["-c", ...path, "Main.hs"]);
      await w.ok(["-c", "-fforce-recomp", ...path, "Main.hs"]);
      await w.write({ "a/M.hs": "module M (m, extra) where\nm :: Int\nm = 2\nextra :: Int\nextra = 3\n" });
      await w.ok(["-c", ...path, "a/M.hs"]);
      await w.write({
        "Main.hs": "module Main (main) where\nimport M\nmain :: IO ()\nmain = print (m, extra)\n",
      });
      await w.ok(["-c", ...path, "Main.hs"]);
      await w.ok(["-o", "prog", "a/M.o", "Main.o"]);
      await w.sameOutputs();
      assertEquals((await w.sameProgram("prog")).stdout, "(2,3)\n");
      // The nearer one goes away again: the farther one is found once more.
      await w.remove("a/M.hi");
      await w.remove("a/M.o");
      assertEquals((await w.same(["-c", ...path, "Main.hs"])).code, 1);
      await w.sameOutputs();
    });

    await t.step("an hs-boot cycle, and its boot file changed", async () => {
      const boot = (extra: string) =>
        `module A where\ndata T\nmkT :: Int -> T\nshowT :: T -> String\n${extra}`;
      const a = (extra: string) =>
        "module A (T, mkT, showT, run, other) where\nimport B\ndata T = T Int\nmkT :: Int -> T\nmkT = T\n" +
        'showT :: T -> String\nshowT (T n) = "T" ++ show n\nrun :: String\nrun = wrap 3\n' +
        `other :: T -> String\nother (T n) = "other" ++ show n\n${extra}`;
      const w = await Twins.create(server, {
        "A.hs-boot": boot(""),
        "A.hs": a(""),
        "B.hs":
          "module B (wrap) where\nimport {-# SOURCE #-} A\nwrap :: Int -> String\nwrap n = showT (mkT n)\n",
        "Main.hs":
          "module Main (main) where\nimport A\nimport B\nmain :: IO ()\nmain = putStrLn (run ++ wrap 4)\n",
      });
      const build = async () => {
        for (const f of ["A.hs-boot", "B.hs", "A.hs", "Main.hs", "Main.hs"]) await w.ok(["-c", f]);
        await w.ok(["-o", "prog", "A.o", "B.o", "Main.o"]);
      };
      await build();
      assertEquals((await w.sameProgram("prog")).stdout, "T3T4\n");
      await w.write({
        "A.hs-boot": boot("other :: T -> String\n"),
        "B.hs":
          "module B (wrap) where\nimport {-# SOURCE #-} A\nwrap :: Int -> String\nwrap n = other (mkT n)\n",
      });
      await build();
      await w.sameOutputs();
      assertEquals((await w.sameProgram("prog")).stdout, "other3other4\n");
    });

    await t.step("two targets with same-named modules, alternating", async () => {
      const w = await Twins.create(server, {
        "t1/M.hs": "module M (m) where\nm :: Int\nm = 1\n",
        "t1/U.hs": "module U (u) where\nimport M\nu :: Int\nu = m + 1\n",
        "t2/M.hs": "module M (m, n) where\nm :: Int\nm = 2\nn :: Int\nn = 3\n",
        "t2/U.hs": "module U (u) where\nimport M\nu :: Int\nu = m + n\n",
      });
      for (const target of ["t1", "t2", "t1", "t2"]) {
        await w.ok(["-c", `-i${target}`, `${target}/M.hs`]);
        await w.ok(["-c", "-fforce-recomp", `-i${target}`, `${target}/U.hs`]);
        await w.ok(["-c", "-fforce-recomp", `-i${target}`, `${target}/U.hs`]);
      }
      await w.sameOutputs();
    });

    await t.step("a different -this-unit-id", async () => {
      const w = await Twins.create(server, {
        "M.hs": "module M (m) where\nm :: Int\nm = 1\n",
        "U.hs": "module U (u) where\nimport M\nu :: Int\nu = m + 1\n",
      });
      for (const unit of ["alpha-1.0", "beta-2.0", "alpha-1.0"]) {
        const flags = ["-this-unit-id", unit, `-i${unit}`, "-odir", unit, "-hidir", unit];
        await w.ok(["-c", "-fforce-recomp", ...flags, "M.hs"]);
        await w.ok(["-c", "-fforce-recomp", ...flags, "U.hs"]);
        await w.ok(["-c", "-fforce-recomp", ...flags, "U.hs"]);
      }
      // The same module compiled for another unit into the first unit's directory.
      await w.ok([
        "-c",
        "-fforce-recomp",
        "-this-unit-id",
        "gamma-3.0",
        "-odir",
        "alpha-1.0",
        "-hidir",
        "alpha-1.0",
        "M.hs",
      ]);
      await w.same([
        "-c",
        "-fforce-recomp",
        "-this-unit-id",
        "alpha-1.0",
        "-ialpha-1.0",
        "-odir",
        "alpha-1.0",
        "-hidir",
        "alpha-1.0",
        "U.hs",
      ]);
      await w.sameOutputs();
    });

    await t.step("deleted and re-added modules", async () => {
      const w = await Twins.create(server, {
        "C.hs": "module C (c) where\nc :: Int\nc = 1\n",
        "B.hs": "module B (b) where\nimport C\nb :: Int\nb = c + 1\n",
      });
      for (const m of ["C", "B", "B"]) await w.ok(["-c", "-fforce-recomp", `${m}.hs`]);
      for (const f of ["C.hs", "C.hi", "C.o"]) await w.remove(f);
      const gone = await w.same(["-c", "-fforce-recomp", "B.hs"]);
      assertEquals(gone.code, 1);
      assertMatch(gone.stderr, /Could not (find|load) module/);
      await w.write({
        "C.hs": "module C (c, c2) where\nc :: Int\nc = 2\nc2 :: Int\nc2 = 3\n",
        "B.hs": "module B (b) where\nimport C\nb :: Int\nb = c + c2\n",
      });
      for (const m of ["C", "B", "B"]) await w.ok(["-c", "-fforce-recomp", `${m}.hs`]);
      await w.sameOutputs();
    });
  } finally {
    await server.stop();
  }
});
