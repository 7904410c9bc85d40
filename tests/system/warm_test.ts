/**
 * Sequences of requests through ONE long-lived worker (-n 1), each step compared with plain ghc run cold
 * on an identical tree: the situations in which keeping GHC state between requests goes wrong.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { GHC, run, startServer } from "../support/helpers.ts";
import { Twins } from "../support/twins.ts";
import { inspectGhc } from "../../lib/ghc/installation.ts";
import { baseUnits, buildMyLib } from "../support/my_lib.ts";

const TH_FLAGS = ["-dynamic-too"];

Deno.test("one warm worker gives cold ghc's results across edits", async (t) => {
  const server = await startServer(["-n", "1"]);
  try {
    await t.step(
      "edited exports, added and deleted modules, changed instances, errors in between",
      async () => {
        const w = await Twins.create(server, {
          "A.hs":
            "module A (T (..), f, g) where\ndata T = T Int\nf :: Int -> Int\nf = (+ 1)\ng :: Int\ng = 2\n",
          "B.hs": "module B (h) where\nimport A\nh :: Int\nh = f g\n",
          "Inst.hs": 'module Inst () where\nimport A\ninstance Show T where\n  show (T n) = "T" ++ show n\n',
          "Main.hs":
            "module Main (main) where\nimport A\nimport B\nimport Inst ()\nmain :: IO ()\nmain = print (h, T 5)\n",
        });
        const all = ["A", "B", "Inst", "Main"];
        const build = async (mods = all) => {
          for (const m of mods) await w.same(["-c", `${m}.hs`]);
          return await w.same(["-o", "prog", ...all.map((m) => `${m}.o`)]);
        };
        await build();
        await w.sameOutputs();
        assertEquals((await w.sameProgram("prog")).stdout, "(3,T5)\n");

        // Remove g from A's exports: B must fail exactly as with ghc.
        await w.write({
          "A.hs": "module A (T (..), f) where\ndata T = T Int\nf :: Int -> Int\nf = (+ 1)\ng :: Int\ng = 2\n",
        });
        await w.ok(["-c", "A.hs"]);
        const broken = await w.same(["-c", "B.hs"]);
        assertEquals(broken.code, 1);
        assertMatch(broken.stderr, /not in scope: g/i);

        // Add a module that provides g again.
        await w.write({
          "C.hs": "module C (g) where\ng :: Int\ng = 40\n",
          "B.hs": "module B (h) where\nimport A\nimport C\nh :: Int\nh = f g\n",
        });
        await w.ok(["-c", "C.hs"]);
        await w.ok(["-c", "B.hs"]);
        await w.ok(["-c", "Main.hs"]);
        await w.ok(["-o", "prog", ...["A", "B", "C", "Inst", "Main"].map((m) => `${m}.o`)]);
        assertEquals((await w.sameProgram("prog")).stdout, "(41,T5)\n");

        // Change the instance.
        await w.write({
          "Inst.hs":
            'module Inst () where\nimport A\ninstance Show T where\n  show (T n) = "T<" ++ show n ++ ">"\n',
        });
        await w.ok(["-c", "Inst.hs"]);
        await w.ok(["-c", "Main.hs"]);
        await w.ok(["-o", "prog", ...["A", "B", "C", "Inst", "Main"].map((m) => `${m}.o`)]);
        assertEquals((await w.sameProgram("prog")).stdout, "(41,T<5>)\n");

        // Delete C: the import fails the same way.
        await w.remove("C.hs");
        await w.remove("C.hi");
        await w.remove("C.o");
        assertEquals((await w.same(["-c", "B.hs"])).code, 1);
        await w.sameOutputs();
      },
    );

    await t.step("-O0, then -O1, then -O0 of the same module", async () => {
      const w = await Twins.create(server, {
        "Lib.hs":
          "module Lib (double, total) where\ndouble :: Int -> Int\ndouble x = x * 2\ntotal :: [Int] -> Int\ntotal = sum . map double\n",
        "Use.hs":
          "module Use (u) where\nimport Lib\nimport qualified Data.Map as M\nu :: Int\nu = total (M.elems (M.fromList [(1 :: Int, 2), (3, 4)]))\n",
      });
      for (const opt of ["-O0", "-O1", "-O0", "-O1"]) {
        await w.ok(["-c", "-fforce-recomp", opt, "Lib.hs"]);
        await w.ok(["-c", "-fforce-recomp", opt, "Use.hs"]);
        await w.sameOutputs();
      }
    });

    await t.step(
      "a source whose own OPTIONS_GHC raise the optimisation level, with -c and --make",
      async () => {
        // Plain's -O0 compiles leave Data.Map's and base's interfaces kept without unfoldings; Fast's
        // pragma asks for -O2, whose inlining (and so Fast's .hi) needs those unfoldings.
        const w = await Twins.create(server, {
          "Plain.hs":
            "module Plain (p) where\nimport qualified Data.Map as M\np :: Int\np = sum (M.elems (M.fromList [(1 :: Int, 2), (3, 4)]))\n",
          "Fast.hs":
            "{-# OPTIONS_GHC -O2 #-}\nmodule Fast (total, sizes) where\nimport qualified Data.Map as M\ntotal :: [Int] -> Int\ntotal = sum . map (* 2)\nsizes :: M.Map Int [Int] -> Int\nsizes = M.foldr ((+) . total) 0\n",
        });
        for (let round = 0; round < 2; round++) {
          await w.ok(["-c", "-fforce-recomp", "-O0", "Plain.hs"]);
          await w.ok(["-c", "-fforce-recomp", "-O0", "Fast.hs"]);
          await w.sameOutputs();
        }
        await w.ok(["--make", "-no-link", "-fforce-recomp", "-O0", "Fast.hs"]);
        await w.sameOutputs();
        await w.ok(["--make", "-no-link", "-fforce-recomp", "-O0", "Plain.hs", "Fast.hs"]);
        await w.sameOutputs();
        // The kept -O0 interfaces were left as they were: plain -O0 compiles stay warm and right.
        await w.ok(["-c", "-fforce-recomp", "-O0", "Plain.hs"]);
        await w.sameOutputs();
      },
    );

    await t.step("two targets with a same-named module in different directories", async () => {
      const w = await Twins.create(server, {
        "t1/Util.hs": 'module Util (name) where\nname :: String\nname = "one"\n',
        "t1/Main.hs": "module Main (main) where\nimport Util\nmain :: IO ()\nmain = putStrLn name\n",
        "t2/Util.hs":
          'module Util (name, extra) where\nname :: String\nname = "two"\nextra :: Int\nextra = 2\n',
        "t2/Main.hs":
          "module Main (main) where\nimport Util\nmain :: IO ()\nmain = putStrLn (name ++ show extra)\n",
      });
      for (const target of ["t1", "t2", "t1", "t2"]) {
        await w.ok([
          "-c",
          "-fforce-recomp",
          `-i${target}`,
          "-odir",
          `out/${target}`,
          "-hidir",
          `out/${target}`,
          `${target}/Util.hs`,
        ]);
        await w.ok([
          "-c",
          "-fforce-recomp",
          `-iout/${target}`,
          "-odir",
          `out/${target}`,
          "-hidir",
          `out/${target}`,
          `${target}/Main.hs`,
        ]);
        await w.ok(["-o", `${target}.exe`, `out/${target}/Util.o`, `out/${target}/Main.o`]);
      }
      await w.sameOutputs();
      assertEquals((await w.sameProgram("t1.exe")).stdout, "one\n");
      assertEquals((await w.sameProgram("t2.exe")).stdout, "two2\n");
      // --make of both targets, one after the other.
      await w.ok([
        "--make",
        "-fforce-recomp",
        "-it1",
        "-odir",
        "mk/t1",
        "-hidir",
        "mk/t1",
        "t1/Main.hs",
        "-o",
        "m1",
      ]);
      await w.ok([
        "--make",
        "-fforce-recomp",
        "-it2",
        "-odir",
        "mk/t2",
        "-hidir",
        "mk/t2",
        "t2/Main.hs",
        "-o",
        "m2",
      ]);
      await w.sameOutputs();
    });

    await t.step("a different -this-unit-id", async () => {
      const w = await Twins.create(server, { "U.hs": "module U (u) where\nu :: Int\nu = 1\n" });
      for (const unit of ["alpha-1.0", "beta-2.0", "alpha-1.0"]) {
        await w.ok(["-c", "-fforce-recomp", "-this-unit-id", unit, "-odir", unit, "-hidir", unit, "U.hs"]);
      }
      await w.sameOutputs();
    });

    await t.step("package flags: each request's visible packages, never an earlier request's", async () => {
      // A worker keeps the unit state computed from the package databases for the next request with the
      // same package flags (Ghcpw.Compat.setSessionDynFlagsKeeping): any other flags must compute their own.
      const w = await Twins.create(server, {
        "M.hs":
          "module M (n) where\nimport qualified Data.Map as Map\nn :: Int\nn = Map.size (Map.fromList [(1 :: Int, 'a')])\n",
      });
      const compile = ["-c", "-fforce-recomp", "M.hs"];
      const hidden = [
        ["-hide-package", "containers"],
        ["-ignore-package", "containers"],
        ["-hide-all-packages", "-package", "base"],
      ];
      await w.ok(compile);
      for (const flags of hidden) {
        assertMatch((await w.same([...flags, ...compile])).stderr, /containers/);
        await w.ok(compile);
        assertEquals((await w.same([...flags, ...compile])).code, 1);
      }
      await w.ok(["-hide-all-packages", "-package", "base", "-package", "containers", ...compile]);
      await w.sameOutputs();
    });

    await t.step("one request's tool flags (-optP, -optc, -pgmc) do not reach the next", async () => {
      // A worker reads GHC's settings files once; what flags change of them must stay with their request.
      const w = await Twins.create(server, {
        "Flag.hs":
          "{-# LANGUAGE CPP #-}\nmodule Flag (flag) where\n#ifdef FLAG\nflag :: Int\nflag = 1\n#else\nflag :: Bool\nflag = True\n#endif\n",
        "c.c": '#ifdef BROKEN\n#error "BROKEN is defined"\n#endif\nint c(void) { return 1; }\n',
      });
      await w.ok(["-c", "-fforce-recomp", "-optP-DFLAG", "-odir", "with", "-hidir", "with", "Flag.hs"]);
      await w.ok(["-c", "-fforce-recomp", "-odir", "without", "-hidir", "without", "Flag.hs"]);
      assertEquals((await w.same(["-c", "-optc-DBROKEN", "c.c"])).code, 1);
      assertEquals((await w.same(["-c", "-pgmc", "false", "c.c"])).code, 1);
      await w.ok(["-c", "c.c"]);
      await w.sameOutputs();
    });

    await t.step("the same module after different predecessors, with -c and --make", async () => {
      // GHC 9.0 records a usage of a package module only if that module's interface happens to be loaded
      // (I re-exports GHC.Int's Int64 without using it; U uses it): a warm worker that still holds GHC.Int
      // from U must not record it for I.
      const w = await Twins.create(server, {
        "I.hs": "module I (Int64) where\nimport Data.Int (Int64)\n",
        "U.hs": "module U where\nimport Data.Int\nf :: Int64 -> Int64\nf x = x + 1\n",
        "V.hs": "module V where\nimport qualified Data.Map as M\nv :: M.Map Int Int\nv = M.empty\n",
        // Like I, with output (from CPP, before GHC type-checks it) that must appear once, as with ghc.
        "J.hs":
          '{-# LANGUAGE CPP #-}\nmodule J (Int64) where\n#warning "J re-exports Int64"\nimport Data.Int (Int64)\n',
      });
      const oneShot = (file: string, out: string) => ["-c", "-odir", out, "-hidir", out, file];
      const make = (
        out: string,
        ...files: string[]
      ) => ["--make", "-no-link", "-odir", out, "-hidir", out, ...files];
      await w.ok(oneShot("I.hs", "first"));
      await w.ok(oneShot("U.hs", "u"));
      await w.ok(oneShot("I.hs", "after-u"));
      await w.ok(oneShot("V.hs", "v"));
      await w.ok(oneShot("I.hs", "after-v"));
      assertMatch((await w.ok(oneShot("J.hs", "after-v"))).stderr, /J re-exports Int64/);
      await w.ok(make("make-after-u", "I.hs"));
      // In one --make, what earlier modules of the build loaded counts, for ghc as for ghcpw.
      await w.ok(make("make-both", "U.hs", "I.hs"));
      await w.ok(oneShot("I.hs", "after-make"));
      await w.sameOutputs();
    });

    await t.step("a CPP include is a dependent file exactly where ghc records one", async () => {
      // GHC leaves out of a module's dependent files every include whose path starts with its temporary
      // directory (the client's TMPDIR, or -tmpdir), while ghcpw's worker keeps GHC's own temporary
      // files in a directory of the request's.
      const headers = await Deno.makeTempDir({ prefix: "ghcpw-headers-" });
      const otherTmp = await Deno.makeTempDir({ prefix: "ghcpw-other-tmp-" });
      try {
        await Deno.writeTextFile(`${headers}/answer.h`, "#define ANSWER 42\n");
        const w = await Twins.create(server, {
          "Cpp.hs":
            '{-# LANGUAGE CPP #-}\nmodule Cpp (answer) where\n#include "answer.h"\nanswer :: Int\nanswer = ANSWER\n',
        });
        const compile = (out: string) => ["-c", `-I${headers}`, "-odir", out, "-hidir", out, "Cpp.hs"];
        await w.ok(compile("under-tmp"));
        await w.ok(compile("other-tmp"), { TMPDIR: otherTmp });
        await w.ok([...compile("flag"), "-tmpdir", headers], { TMPDIR: otherTmp });
        await w.sameOutputs();
        const recorded = async (out: string) =>
          (await run(GHC, ["--show-iface", `${w.cold}/${out}/Cpp.hi`])).stdout.includes(
            `${headers}/answer.h`,
          );
        assertEquals(
          [await recorded("under-tmp"), await recorded("other-tmp"), await recorded("flag")],
          [false, true, false],
        );
      } finally {
        await Deno.remove(headers, { recursive: true });
        await Deno.remove(otherTmp, { recursive: true });
      }
    });

    await t.step(
      "a package database added, rebuilt in place with the same unit id, and removed",
      async () => {
        const ghc = await inspectGhc(GHC);
        const depends = await baseUnits(ghc.ghcPkg);
        const w = await Twins.create(server, {
          "Use.hs": "module Main (main) where\nimport MyLib\nmain :: IO ()\nmain = print libValue\n",
          "Splice.hs":
            "{-# LANGUAGE TemplateHaskell #-}\nmodule Main (main) where\nimport MyLib\nmain :: IO ()\nmain = print ($(libSplice) :: Int)\n",
        });
        const pkgArgs = ["-package-db", "pkg/db", "-package", "mylib"];
        // Without the database the package is unknown, on both sides alike.
        assertEquals((await w.same(["-c", ...pkgArgs.slice(2), "Use.hs"])).code, 1);
        for (const version of [1, 2]) {
          await buildMyLib(ghc, depends, version, `${w.cold}/pkg`);
          await buildMyLib(ghc, depends, version, `${w.warm}/pkg`);
          for (const main of ["Use", "Splice"]) {
            await w.ok(["-c", ...TH_FLAGS, ...pkgArgs, `${main}.hs`]);
            // Linked dynamically: the library is built as a shared library only.
            await w.ok(["-dynamic", "-o", main.toLowerCase(), ...pkgArgs, `${main}.dyn_o`]);
          }
          await w.sameOutputs([".hi", ".dyn_hi"]);
          assertEquals((await w.sameProgram("use", [], "pkg/lib")).stdout, `${version}\n`);
          assertEquals(
            (await w.sameProgram("splice", [], "pkg/lib")).stdout,
            `${version * 1000}\n`,
            "TH must run the rebuilt library",
          );
        }
        await Deno.remove(`${w.cold}/pkg`, { recursive: true });
        await Deno.remove(`${w.warm}/pkg`, { recursive: true });
        assertEquals((await w.same(["-c", ...pkgArgs, "Use.hs"])).code, 1);
      },
    );

    await t.step(
      "the same relative -package-db path in two working directories, databases of the same time stamp",
      async () => {
        const ghc = await inspectGhc(GHC);
        const depends = await baseUnits(ghc.ghcPkg);
        const splice =
          "{-# LANGUAGE TemplateHaskell #-}\nmodule Main (main) where\nimport MyLib\nmain :: IO ()\nmain = print ($(libSplice) :: Int)\n";
        const trees = [
          await Twins.create(server, { "Splice.hs": splice }),
          await Twins.create(server, { "Splice.hs": splice }),
        ];
        const pkgArgs = ["-package-db", "pkg/db", "-package", "mylib"];
        const stamp = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
        for (const [i, w] of trees.entries()) {
          for (const root of [w.cold, w.warm]) {
            await buildMyLib(ghc, depends, i + 1, `${root}/pkg`);
            // Whole seconds, as an archive would leave them: only the working directory tells them apart.
            await Deno.utime(`${root}/pkg/db/package.cache`, stamp, stamp);
          }
        }
        try {
          for (const [i, w] of trees.entries()) {
            await w.ok(["-c", ...TH_FLAGS, ...pkgArgs, "Splice.hs"]);
            await w.ok(["-dynamic", "-o", "splice", ...pkgArgs, "Splice.dyn_o"]);
            await w.sameOutputs([".hi", ".dyn_hi"]);
            assertEquals(
              (await w.sameProgram("splice", [], "pkg/lib")).stdout,
              `${(i + 1) * 1000}\n`,
              "TH must run this directory's library",
            );
          }
        } finally {
          for (const w of trees) await Deno.remove(`${w.cold}/..`, { recursive: true });
        }
      },
    );
  } finally {
    await server.stop();
  }
});
