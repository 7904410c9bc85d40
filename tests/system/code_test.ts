/**
 * Loaded code kept between requests (`--share all,code`): through ONE worker, Template Haskell splices
 * must see what cold ghc's see after the home code they run is edited, after a package in a mutable
 * database is rebuilt in place, and when requests alternate between package databases; and the worker
 * keeps only the code of packages from immutable databases, as `ghcpw status` shows.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { GHC, ghcpwCli, startServer } from "../support/helpers.ts";
import { Twins } from "../support/twins.ts";
import { inspectGhc } from "../../lib/ghc/installation.ts";
import { baseUnits, buildMyLib } from "../support/my_lib.ts";

/** A module whose value a splice in {@linkcode useModule} prints while compiling. */
const valModule = (value: number) => `module Val (val) where\nval :: Int\nval = ${value}\n`;

const useModule = `{-# LANGUAGE TemplateHaskell #-}
module Use (used) where
import Language.Haskell.TH.Syntax (lift, runIO)
import Val
used :: Int
used = $(runIO (putStrLn ("splice sees " ++ show val)) >> lift val)
`;

/** A module whose splice prints the value of the package mylib (tests/support/my_lib.ts). */
const libUserModule = `{-# LANGUAGE TemplateHaskell #-}
module LibUser (user) where
import Language.Haskell.TH.Syntax (lift, runIO)
import MyLib
user :: Int
user = $(runIO (putStrLn ("splice sees mylib " ++ show libValue)) >> lift libValue)
`;

Deno.test("kept loaded code gives cold ghc's splice results", async (t) => {
  const server = await startServer(["-n", "1", "--share", "all,code"]);
  const keptCode = async (): Promise<string[]> => {
    const r = await ghcpwCli(["status", "--socket", server.socket, "--json"]);
    assertEquals(r.code, 0, r.stderr);
    const [worker] = JSON.parse(r.stdout).workers;
    assertEquals(worker.share, "names,databases,interfaces,code");
    return worker.codePackages ?? [];
  };
  try {
    const ghc = await inspectGhc(GHC);
    const depends = await baseUnits(ghc.ghcPkg);
    const w = await Twins.create(server, {
      "Val.hs": valModule(47),
      "Use.hs": useModule,
      "LibUser.hs": libUserModule,
    });
    // A module whose sources did not change may need no compile at all (GHC's recompilation check);
    // forced, its splice runs whatever other requests ran before.
    const FORCE = ["-fforce-recomp"];
    const useVal = async (value: number, force: string[] = []) => {
      await w.ok(["-c", "-dynamic-too", "Val.hs"]);
      const r = await w.ok(["-c", "-dynamic-too", ...force, "Use.hs"]);
      assertMatch(r.stdout, new RegExp(`^splice sees ${value}\n`));
    };

    await t.step("a home module a splice runs, edited between requests", async () => {
      await useVal(47);
      const kept = await keptCode();
      // What a starting linker loads for a plain -c: base and its dependencies, and no home code.
      for (const unit of ["rts", "base"]) assert(kept.includes(unit), `keeps code of ${kept.join(",")}`);
      const table = await ghcpwCli(["status", "--socket", server.socket]);
      assertMatch(table.stdout, /worker \d+ keeps loaded code of: rts, .*\bbase\b/);
      for (const value of [1047, 2047]) {
        await w.write({ "Val.hs": valModule(value) });
        await useVal(value);
      }
      await w.sameOutputs([".hi", ".dyn_hi"]);
    });

    await t.step("a package in a mutable database, rebuilt in place", async () => {
      const pkgArgs = ["-package-db", "pkg/db", "-package", "mylib"];
      for (const version of [1, 2]) {
        await buildMyLib(ghc, depends, version, `${w.cold}/pkg`);
        await buildMyLib(ghc, depends, version, `${w.warm}/pkg`);
        const r = await w.ok(["-c", "-dynamic-too", ...FORCE, ...pkgArgs, "LibUser.hs"]);
        assertMatch(
          r.stdout,
          new RegExp(`^splice sees mylib ${version}\n`),
          "TH must run the rebuilt library",
        );
        await useVal(2047, FORCE);
      }
      await w.sameOutputs([".hi", ".dyn_hi"]);
      assert(
        !(await keptCode()).some((u) => u.startsWith("mylib")),
        "code of a mutable database is not kept",
      );
    });

    await t.step("requests alternating between two package databases", async () => {
      for (const [dir, version] of [["pkgA", 3], ["pkgB", 4]] as const) {
        await buildMyLib(ghc, depends, version, `${w.cold}/${dir}`);
        await buildMyLib(ghc, depends, version, `${w.warm}/${dir}`);
      }
      for (const [dir, version] of [["pkgA", 3], ["pkgB", 4], ["pkgA", 3], ["pkgB", 4]] as const) {
        // mylib is exposed, so no -package flag: the linker loads it when the splice needs it.
        const r = await w.ok(["-c", "-dynamic-too", ...FORCE, "-package-db", `${dir}/db`, "LibUser.hs"]);
        assertMatch(r.stdout, new RegExp(`^splice sees mylib ${version}\n`));
        // Home code linked with no such database: a linker that remembered mylib would ask for it.
        await useVal(2047, FORCE);
      }
      await w.sameOutputs([".hi", ".dyn_hi"]);
      assert((await keptCode()).includes("base"));
    });
  } finally {
    await server.stop();
  }
});
