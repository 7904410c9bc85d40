/**
 * End to end through a real server, real unix socket and real GHC workers, with plain ghc as the oracle:
 * every invocation runs once through ghcpw in one tree and once on plain ghc in an identical tree, and
 * exit codes, stdout, stderr and outputs must match.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { MODULE_ORDER, project, TYPE_ERROR_MODULE, WARNING_MODULE } from "../support/fixtures.ts";
import { assertSameRun, ghc, ghcpw, run, startServer } from "../support/helpers.ts";
import { Twins } from "../support/twins.ts";

const LINK_PACKAGES = ["-package", "containers", "-package", "template-haskell"];

Deno.test("end to end against plain ghc", async (t) => {
  const server = await startServer();
  try {
    await t.step(
      "one-shot -c in dependency order: same output, byte-identical .hi, same program",
      async () => {
        const trees = await Twins.create(server, project());
        for (const module of MODULE_ORDER) {
          const r = await trees.same(["-c", "-dynamic-too", `${module}.hs`]);
          assertEquals(r.code, 0, r.stderr);
          if (module === "Tables") assertMatch(r.stdout, /TH: computing the answer/);
        }
        const objects = MODULE_ORDER.map((m) => `${m}.o`);
        const link = await trees.same(["-o", "prog", ...LINK_PACKAGES, ...objects]);
        assertEquals(link.code, 0, link.stderr);
        await trees.sameOutputs([".hi", ".dyn_hi"]);
        const [coldOut, warmOut] = await Promise.all([
          run(`${trees.cold}/prog`, []),
          run(`${trees.warm}/prog`, []),
        ]);
        assertEquals(warmOut, coldOut);
        assertMatch(warmOut.stdout, /^42\n\[1,4,9,16,25\]\n/);

        // Edit a module whose code a splice runs, and rebuild it and its dependents.
        const edited = project(1046)["Shapes/Area.hs"];
        await Deno.writeTextFile(`${trees.cold}/Shapes/Area.hs`, edited);
        await Deno.writeTextFile(`${trees.warm}/Shapes/Area.hs`, edited);
        for (const module of MODULE_ORDER.slice(1)) {
          assertEquals((await trees.same(["-c", "-dynamic-too", `${module}.hs`])).code, 0);
        }
        await trees.same(["-o", "prog", ...LINK_PACKAGES, ...objects]);
        await trees.sameOutputs([".hi", ".dyn_hi"]);
        const rebuilt = await run(`${trees.warm}/prog`, []);
        assertEquals(rebuilt, await run(`${trees.cold}/prog`, []));
        assertMatch(rebuilt.stdout, /^1047\n/, "the splice must see the edited module");
      },
    );

    await t.step("--make: same progress output, byte-identical .hi, same program", async () => {
      const trees = await Twins.create(server, project());
      const r = await trees.same(["--make", "-dynamic-too", "Main.hs", "-o", "prog"]);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /Linking prog/);
      await trees.sameOutputs([".hi", ".dyn_hi"]);
      assertEquals(await run(`${trees.warm}/prog`, []), await run(`${trees.cold}/prog`, []));
      // Up to date: a second --make has nothing to do, on both sides alike.
      await trees.same(["--make", "-dynamic-too", "Main.hs", "-o", "prog"]);
    });

    await t.step("--make -no-link into separate output directories", async () => {
      const trees = await Twins.create(server, project());
      const args = ["--make", "-no-link", "-dynamic-too", "-odir", "out/o", "-hidir", "out/hi", "Main.hs"];
      assertEquals((await trees.same(args)).code, 0);
      await trees.sameOutputs([".hi", ".dyn_hi"]);
    });

    await t.step("a type error: same exit code and diagnostics, -c and --make", async () => {
      const trees = await Twins.create(server, { "Broken.hs": TYPE_ERROR_MODULE });
      const oneShot = await trees.same(["-c", "Broken.hs"]);
      assertEquals(oneShot.code, 1);
      assertMatch(oneShot.stderr, /Broken\.hs:4:10: error/);
      assertEquals((await trees.same(["--make", "-no-link", "Broken.hs"])).code, 1);
      await trees.sameOutputs([".hi"]);
    });

    await t.step("a warning-only module exits 0 with the warning", async () => {
      const trees = await Twins.create(server, { "Warned.hs": WARNING_MODULE });
      const r = await trees.same(["-c", "-Wall", "Warned.hs"]);
      assertEquals(r.code, 0);
      assertMatch(r.stderr, /warning: .*-Wunused-local-binds/);
      assertMatch(r.stderr, /warning: .*-Wunused-imports/);
      // Under -Werror the same warnings fail the compile, as with ghc.
      assertEquals(
        (await trees.same(["-c", "-fforce-recomp", "-Wall", "-Werror", "Warned.hs"])).code,
        1,
      );
    });

    await t.step("query modes are byte-identical", async () => {
      const trees = await Twins.create(server, {});
      for (
        const flag of [
          "--version",
          "--numeric-version",
          "--info",
          "--print-libdir",
          "--supported-extensions",
          "--supported-languages",
          "--show-options",
        ]
      ) {
        const r = await trees.same([flag]);
        assertEquals(r.code, 0, flag);
        assert(r.stdout.length > 0, flag);
      }
    });

    await t.step("-M and --show-iface give ghc's output", async () => {
      const trees = await Twins.create(server, project());
      const dep = ["-M", "-dep-suffix", "", "-dep-makefile", "deps.mk", "Main.hs"];
      assertEquals((await trees.same(dep)).code, 0);
      assertEquals(
        await Deno.readTextFile(`${trees.warm}/deps.mk`),
        await Deno.readTextFile(`${trees.cold}/deps.mk`),
      );
      assertEquals((await trees.same(["-c", "Shapes/Types.hs"])).code, 0);
      const iface = await trees.same(["--show-iface", "Shapes/Types.hi"]);
      assertMatch(iface.stdout, /interface Shapes\.Types/);
    });

    await t.step("usage errors and unknown flags read exactly as ghc's", async () => {
      const trees = await Twins.create(server, project());
      assertEquals((await trees.same(["-c", "--no-such-flag", "Shapes/Types.hs"])).code, 1);
      assertEquals((await trees.same(["-c"])).code, 1);
      assertEquals((await trees.same(["-c", "-M", "Main.hs"])).code, 1);
      assertEquals((await trees.same(["-c", "Missing.hs"])).code, 1);
      assertEquals((await trees.same(["-c", "Shapes/Types.hs", "-o", "no/such/dir/x.o"])).code, 1);
    });

    await t.step("each request gets its own environment and working directory", async () => {
      const splice = `{-# LANGUAGE TemplateHaskell #-}
module Main (main) where
import Language.Haskell.TH
import System.Directory (getCurrentDirectory)
import System.Environment (lookupEnv)
import System.FilePath (takeFileName)
main :: IO ()
main = putStrLn $(runIO ((,) <$> lookupEnv "SPLICE_VALUE" <*> fmap takeFileName getCurrentDirectory) >>= stringE . show)
`;
      const trees = await Twins.create(server, { "Env.hs": splice });
      const first = await trees.same(["-c", "Env.hs"], { SPLICE_VALUE: "one" });
      assertEquals(first.code, 0, first.stderr);
      await trees.sameOutputs([]);
      await trees.same(["-c", "-fforce-recomp", "Env.hs"], { SPLICE_VALUE: "two" });
      await trees.same(["-o", "env", "Env.o"]);
      assertEquals((await run(`${trees.warm}/env`, [])).stdout, '(Just "two","warm")\n');
      assertEquals((await run(`${trees.cold}/env`, [])).stdout, '(Just "two","cold")\n');
    });

    await t.step("response files behave as in GHC 9.4+", async () => {
      const trees = await Twins.create(server, project());
      const rsp = `-c\n-dynamic-too\n"Shapes/Types.hs"\n-optc-DX='a b'\n`;
      await Deno.writeTextFile(`${trees.warm}/args.rsp`, rsp);
      const expected = await ghc(["-c", "-dynamic-too", "Shapes/Types.hs", "-optc-DX=a b"], trees.cold);
      await Deno.writeTextFile(`${trees.cold}/args.rsp`, rsp);
      assertSameRun(await ghcpw(server.socket, ["@args.rsp"], trees.warm), expected);
      await trees.sameOutputs([".hi", ".dyn_hi"]);
      const missing = await ghcpw(server.socket, ["@nowhere.rsp"], trees.warm);
      assertEquals(missing.code, 1);
      assertEquals(
        missing.stderr,
        "Error while expanding response file: nowhere.rsp: openFile: does not exist (No such file or directory)\n",
      );
    });

    await t.step("+RTS options run the real ghc with them", async () => {
      const trees = await Twins.create(server, project());
      const r = await trees.same(["+RTS", "-H16m", "-RTS", "-c", "Shapes/Types.hs"]);
      assertEquals(r.code, 0);
      await trees.sameOutputs([".hi"]);
    });

    await t.step("dumps on stdout and diagnostics on stderr stay apart", async () => {
      const trees = await Twins.create(server, { "Warned.hs": WARNING_MODULE });
      const r = await trees.same(["-c", "-ddump-simpl", "-dsuppress-uniques", "-Wall", "Warned.hs"]);
      assertMatch(r.stdout, /Tidy Core/);
      assertMatch(r.stderr, /warning/);
    });

    await t.step("large output (64 MiB from a splice) arrives whole", async () => {
      const loud = `{-# LANGUAGE TemplateHaskell #-}
module Loud (x) where
import Language.Haskell.TH
x :: Int
x = $(runIO (putStr (concat (replicate (1024 * 1024) (replicate 63 'x' ++ "\\n")))) >> litE (integerL 1))
`;
      const trees = await Twins.create(server, { "Loud.hs": loud });
      const r = await ghcpw(server.socket, ["-c", "Loud.hs"], trees.warm);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.length, 64 * 1024 * 1024);
      assert(r.stdout === `${"x".repeat(63)}\n`.repeat(1024 * 1024), "the output was altered in transit");
    });
  } finally {
    await server.stop();
  }
});
