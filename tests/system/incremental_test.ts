/**
 * Incremental `--make` builds (lib/incremental/) against the oracle: a sequence of edits to one target,
 * each built through one server with its output directories emptied first (as Bazel does) and by plain
 * ghc into empty directories. Every step must give the same exit code, the same diagnostics (as a set:
 * replayed warnings come after GHC's own), byte-identical interfaces and a program that behaves the
 * same; the server's counters show that modules really were restored and skipped.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { GHC, ghc, ghcpw, type Run, run, serverStatus, type TestServer } from "../support/helpers.ts";
import { baseUnits, buildMyLib } from "../support/my_lib.ts";
import { diagnosticSet } from "../../scripts/output_compare.ts";
import { inspectGhc } from "../../lib/ghc/installation.ts";
import { Twins } from "../support/twins.ts";
import {
  type Counters,
  counters,
  emptyOutputs,
  incrementalServer,
  measured,
  ranCodeModules,
} from "../support/incremental.ts";

const OUT = ["-outputdir", "out", "-o", "bin/prog"];
const OUTPUT_DIRS = ["out", "bin"];

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

/** How a step runs and what it expects. */
interface StepOptions {
  /** The exit code expected of cold ghc (default 0). */
  code?: number;
  /** Leave ghcpw's output directories as the last step left them, as Buck2 does (default: emptied). */
  keep?: boolean;
  /** Where the program's shared libraries are, relative to each tree. */
  libDir?: string;
  /** Builds through ghcpw at once (default 1), each checked against cold ghc. */
  concurrent?: number;
}

/**
 * One step: cold ghc from emptied directories, and ghcpw; same exit code, diagnostics, interfaces and
 * program. Resolves to what the step changed in the server's counters, and its log about it.
 */
async function step(
  twins: Twins,
  server: TestServer,
  args: string[],
  options: StepOptions = {},
): Promise<{ warm: Run; delta: Counters; log: string }> {
  await emptyOutputs(twins.cold, OUTPUT_DIRS);
  if (!options.keep) await emptyOutputs(twins.warm, OUTPUT_DIRS);
  const { result: [cold, runs], delta, log } = await measured(server, async () => {
    const cold = await ghc(args, twins.cold);
    const runs = await Promise.all(
      Array.from({ length: options.concurrent ?? 1 }, () => ghcpw(server.socket, args, twins.warm)),
    );
    return [cold, runs] as const;
  });
  assertEquals(cold.code, options.code ?? 0, `cold ghc:\n${cold.stderr}`);
  for (const warm of runs) {
    assertEquals(warm.code, cold.code, `ghcpw:\n${warm.stderr}`);
    assertEquals(diagnosticSet(warm.stderr), diagnosticSet(cold.stderr), log);
  }
  await twins.sameOutputs([".hi", ".dyn_hi", ".hi-boot", ".dyn_hi-boot"]);
  if (cold.code === 0) await twins.sameProgram("bin/prog", [], options.libDir);
  return { warm: runs[0], delta, log };
}

/** Stops the server and removes the twin trees. */
async function cleanUp(server: TestServer, twins: Twins): Promise<void> {
  await server.stop();
  await Deno.remove(`${twins.cold}/..`, { recursive: true }).catch(() => {});
}

Deno.test("incremental --make: an edit sequence gives what a cold build into empty directories gives", async (t) => {
  const server = await incrementalServer();
  const twins = await Twins.create(server, PROJECT, "ghcpw-inc-");
  let sources = [...SOURCES];
  const args = () => ["--make", "-Wall", ...OUT, ...sources];
  try {
    await t.step("first build: nothing saved yet", async () => {
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.builds, 1, log);
      assertEquals(delta.modulesRestored, 0, log);
      assertMatch(log, /nothing saved under this key; no earlier build of this target/);
      const status = await serverStatus(server.socket);
      assertEquals((status.incremental as { byDefault: boolean }).byDefault, true, "on by default");
    });
    await t.step("no change: every module without splices restored, warnings replayed", async () => {
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 7, log);
      // Only the two modules with splices are compiled again.
      assertEquals(delta.modulesRecompiled, 2, log);
      assert(delta.warningsReplayed > 0, "Warn's warnings were not replayed");
    });
    await t.step("body edit of a leaf used by a splice", async () => {
      await twins.write({ "src/Leaf.hs": PROJECT["src/Leaf.hs"].replace("leaf = 3", "leaf = 4") });
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6, log);
      assert(delta.modulesRecompiled < 9, `recompiled ${delta.modulesRecompiled}\n${log}`);
    });
    await t.step("export added", async () => {
      await twins.write({
        "src/Types.hs": PROJECT["src/Types.hs"].replace("area) where", "area, sides) where") +
          "\nsides :: Shape -> Int\nsides _ = 4\n",
      });
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6, log);
    });
    await t.step("export removed: dependents fail exactly as cold", async () => {
      await twins.write({ "src/Types.hs": PROJECT["src/Types.hs"].replace("area) where", ") where") });
      await step(twins, server, args(), { code: 1 });
      await twins.write({ "src/Types.hs": PROJECT["src/Types.hs"] });
      await step(twins, server, args());
    });
    await t.step("instance changed", async () => {
      await twins.write({
        "src/Describe.hs": PROJECT["src/Describe.hs"].replace("shape of area", "a shape of area"),
      });
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6, log);
    });
    await t.step("module added", async () => {
      await twins.write({
        "src/Extra.hs": "module Extra (extra) where\n\nextra :: Int\nextra = 99\n",
        "src/Main.hs": PROJECT["src/Main.hs"].replace("import Warn\n", "import Warn\nimport Extra\n")
          .replace("cycTotal)", "cycTotal, extra)"),
      });
      sources = [...sources, "src/Extra.hs"];
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6, log);
    });
    await t.step("module deleted: its outputs do not come back", async () => {
      await twins.write({ "src/Main.hs": PROJECT["src/Main.hs"] });
      await twins.remove("src/Extra.hs");
      sources = sources.filter((s) => s !== "src/Extra.hs");
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 6, log);
    });
    await t.step("module deleted but still imported: fails as cold", async () => {
      await twins.write({
        "src/Main.hs": PROJECT["src/Main.hs"].replace("import Warn\n", "import Warn\nimport Extra\n"),
      });
      await step(twins, server, args(), { code: 1 });
      await twins.write({ "src/Main.hs": PROJECT["src/Main.hs"] });
    });
    await t.step("boot file changed", async () => {
      await twins.write({
        "src/Cyc.hs-boot": PROJECT["src/Cyc.hs-boot"] + "\ncycExtra :: Int\n",
        "src/Cyc.hs": PROJECT["src/Cyc.hs"].replace("cycBase, cycTotal)", "cycBase, cycExtra, cycTotal)") +
          "\ncycExtra :: Int\ncycExtra = 2\n",
      });
      const { delta, log } = await step(twins, server, args());
      assert(delta.modulesRestored >= 4, `restored ${delta.modulesRestored}\n${log}`);
    });
    await t.step("Template Haskell reading a file: the edited file is read again", async () => {
      await twins.write({ "data.txt": "second\n" });
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 7, log);
    });
    await t.step("a -W flag changed: nothing restored, warnings as cold", async () => {
      const { delta, log } = await step(twins, server, [
        "--make",
        "-Wall",
        "-Wno-unused-imports",
        ...OUT,
        ...sources,
      ]);
      assertEquals(delta.modulesRestored, 0, log);
      // The debug log says why: what changed since the target's last saved build.
      assertMatch(
        log,
        /since the last saved build of this target: the command line \(\+-Wno-unused-imports\)/,
      );
      const again = await step(twins, server, ["--make", "-Wall", "-Wno-unused-imports", ...OUT, ...sources]);
      assertEquals(again.delta.modulesRestored, 7, again.log);
    });
    await t.step("-fforce-recomp restores nothing", async () => {
      const { delta, log } = await step(twins, server, [
        "--make",
        "-Wall",
        "-fforce-recomp",
        ...OUT,
        ...sources,
      ]);
      assertEquals(delta.builds, 0, log);
      assertEquals(delta.modulesRestored, 0, log);
    });
    await t.step("GHCPW_INCREMENTAL=0 turns it off for one invocation", async () => {
      await emptyOutputs(twins.warm, OUTPUT_DIRS);
      const before = await counters(server);
      const r = await ghcpw(server.socket, args(), twins.warm, { GHCPW_INCREMENTAL: "0" });
      assertEquals(r.code, 0, r.stderr);
      assertEquals((await counters(server)).builds, before.builds);
    });
    await t.step("corrupt cache files are ignored: the build is correct, just not incremental", async () => {
      const store = ((await serverStatus(server.socket)).incremental as { cacheDir: string }).cacheDir;
      const blobs = `${store}/blobs`;
      for await (const dir of Deno.readDir(blobs)) {
        for await (const f of Deno.readDir(`${blobs}/${dir.name}`)) {
          await Deno.truncate(`${blobs}/${dir.name}/${f.name}`, 1);
        }
      }
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 0, log);
      for await (const f of Deno.readDir(`${store}/entries`)) {
        const path = `${store}/entries/${f.name}`;
        await Deno.writeTextFile(path, (await Deno.readTextFile(path)).slice(0, 100));
      }
      const again = await step(twins, server, args());
      assertEquals(again.delta.modulesRestored, 0, again.log);
      const third = await step(twins, server, args());
      assertEquals(third.delta.modulesRestored, 7, third.log);
    });
  } finally {
    await cleanUp(server, twins);
  }
});

/**
 * A target whose modules run compile-time code or not whatever their text says: quotes under
 * TemplateHaskell (nothing runs), a splice, a quasi-quote, an annotation, a module that gains a splice,
 * one whose CPP include changes under an unchanged source, and one whose `-F` preprocessor reads a file.
 */
const RUNS_CODE_PROJECT: Record<string, string> = {
  // QuasiQuotes are mentioned here, in a comment, and TemplateHaskell is on: but only quotes are built.
  "src/Quotes.hs": "{-# LANGUAGE TemplateHaskell #-}\nmodule Quotes (answer, num) where\n\n" +
    "import Language.Haskell.TH (Exp, Q)\nimport Language.Haskell.TH.Quote (QuasiQuoter (..))\n\n" +
    "answer :: Q Exp\nanswer = [| 42 :: Int |]\n\n-- | For QuasiQuotes elsewhere.\nnum :: QuasiQuoter\n" +
    "num = QuasiQuoter {quoteExp = \\s -> [| read s :: Int |], quotePat = undefined, quoteType = undefined, " +
    "quoteDec = undefined}\n",
  "src/User.hs": "{-# LANGUAGE TemplateHaskell #-}\nmodule User (used) where\n\nimport Quotes\n\n" +
    "used :: Int\nused = $(answer)\n",
  "src/Quoted.hs": "{-# LANGUAGE QuasiQuotes #-}\nmodule Quoted (quoted) where\n\nimport Quotes\n\n" +
    "quoted :: Int\nquoted = [num|5|]\n",
  "src/Ann.hs": 'module Ann (annotated) where\n\n{-# ANN annotated "checked" #-}\nannotated :: Int\n' +
    "annotated = 1\n",
  "src/Gains.hs": "{-# LANGUAGE TemplateHaskell #-}\nmodule Gains (gained) where\n\n" +
    "import Language.Haskell.TH.Syntax (lift)\n\ngained :: Int\ngained = 7\n",
  "src/Inc.hs": '{-# LANGUAGE CPP #-}\nmodule Inc (included) where\n\n#include "value.h"\n\n' +
    "included :: Int\nincluded = VALUE\n",
  "src/value.h": "#define VALUE 1\n",
  // GHC runs a -F preprocessor as PROGRAM ORIGINAL INPUT OUTPUT.
  "src/Pp.hs": '{-# OPTIONS_GHC -F -pgmF ./pp.sh #-}\nmodule Pp (pp) where\n\npp :: String\npp = "WORD"\n',
  "pp.sh": '#!/bin/sh\nsed "s/WORD/$(cat pp.txt)/" "$2" > "$3"\n',
  "pp.txt": "first\n",
  "src/Main.hs": "module Main (main) where\n\nimport Ann\nimport Gains\nimport Inc\nimport Pp\n" +
    "import Quoted\nimport User\n\nmain :: IO ()\n" +
    "main = print (annotated, gained, included, pp, quoted, used)\n",
};

Deno.test("incremental --make: a module is restored unless GHC ran code for it, whatever its text says", async (t) => {
  const server = await incrementalServer();
  const twins = await Twins.create(server, RUNS_CODE_PROJECT, "ghcpw-inc-code-");
  const modules = ["Main", "Quotes", "User", "Quoted", "Ann", "Gains", "Inc", "Pp"];
  const args = (...flags: string[]) => ["--make", ...flags, ...OUT, ...modules.map((m) => `src/${m}.hs`)];
  for (const tree of [twins.cold, twins.warm]) await Deno.chmod(`${tree}/pp.sh`, 0o755);
  try {
    await t.step("first build", async () => {
      await step(twins, server, args());
    });
    await t.step(
      "no change: quotes, CPP and plain modules restored; splice, quasi-quote, annotation not",
      async () => {
        const { delta, log } = await step(twins, server, args());
        assertEquals(ranCodeModules(log), ["Ann", "Quoted", "User"], log);
        assertMatch(log, /its OPTIONS_GHC runs a plugin or program \(-fplugin, -F, -pgm\.\.\.\): Pp/);
        assertEquals(delta.modulesRestored, 4, log);
        assertEquals(delta.modulesRecompiled, 4, log);
      },
    );
    await t.step("an included header changed under an unchanged source: GHC compiles it again", async () => {
      await twins.write({ "src/value.h": "#define VALUE 2\n" });
      const { warm, delta, log } = await step(twins, server, args());
      // Inc is restored (its source is unchanged) and GHC's own check finds the header changed.
      assertEquals(delta.modulesRestored, 4, log);
      assertMatch(warm.stdout, /Compiling Inc /);
    });
    await t.step(
      "a -F preprocessor's input changed under an unchanged source: compiled as cold",
      async () => {
        await twins.write({ "pp.txt": "second\n" });
        const { delta, log } = await step(twins, server, args());
        assertEquals(delta.modulesRestored, 4, log);
      },
    );
    await t.step("a module that gains a splice is compiled, and not restored after", async () => {
      await twins.write({
        "src/Gains.hs": RUNS_CODE_PROJECT["src/Gains.hs"].replace(
          "gained = 7",
          "gained = $(lift (6 * 7 :: Int))",
        ),
      });
      const { delta, log } = await step(twins, server, args());
      assertEquals(delta.modulesRestored, 3, log);
      const again = await step(twins, server, args());
      assertEquals(ranCodeModules(again.log), ["Ann", "Gains", "Quoted", "User"], again.log);
      assertEquals(again.delta.modulesRestored, 3, again.log);
    });
    await t.step("-XTemplateHaskell on the command line: restored as before", async () => {
      await step(twins, server, args("-XTemplateHaskell"));
      const { delta, log } = await step(twins, server, args("-XTemplateHaskell"));
      assertEquals(ranCodeModules(log), ["Ann", "Gains", "Quoted", "User"], log);
      assertEquals(delta.modulesRestored, 3, log);
    });
  } finally {
    await cleanUp(server, twins);
  }
});

/**
 * A target whose modules' names GHC reads past CPP or from a literate source: one with `#if` and
 * `#define` before its header, a literate one, and one whose header is a macro from an included header,
 * which is then edited to give the module another name.
 */
const CPP_NAMES_PROJECT: Record<string, string> = {
  "src/Cpp.hs": "{-# LANGUAGE CPP #-}\n#if 1\n#define ANSWER 42\n#endif\nmodule Cpp (answer) where\n\n" +
    "import Data.List (sort)\n\nanswer :: Int\nanswer = ANSWER\n",
  "src/Lit.lhs": "A literate module.\n\n> module Lit (lit) where\n\n> lit :: Int\n> lit = 7\n",
  "src/Named.hs": '{-# LANGUAGE CPP #-}\n#include "name.h"\nmodule NAME (named) where\n\nnamed :: String\n' +
    'named = "named"\n',
  "src/name.h": "#define NAME Old\n",
  "src/Main.hs": "module Main (main) where\n\nimport Cpp\nimport Lit\nimport Old\n\nmain :: IO ()\n" +
    "main = print (answer, lit, named)\n",
};

Deno.test("incremental --make: module names GHC reads past CPP are restored, and a renamed one is not", async (t) => {
  const server = await incrementalServer();
  const twins = await Twins.create(server, CPP_NAMES_PROJECT, "ghcpw-inc-names-");
  const args = ["--make", "-Wall", ...OUT, "src/Main.hs", "src/Cpp.hs", "src/Lit.lhs", "src/Named.hs"];
  try {
    await t.step("first build", async () => {
      await step(twins, server, args);
    });
    await t.step(
      "no change: every module restored under the name GHC gave it, warnings replayed",
      async () => {
        const { delta, log } = await step(twins, server, args);
        assertEquals(delta.modulesRestored, 4, log);
        assertEquals(delta.modulesRecompiled, 0, log);
        assertEquals(delta.redoneClean, 0, log);
        assertEquals(delta.warningsReplayed, 1, log);
      },
    );
    await t.step(
      "the included header renames a module: built as cold, no outputs under the old name",
      async () => {
        await twins.write({
          "src/name.h": "#define NAME New\n",
          "src/Main.hs": CPP_NAMES_PROJECT["src/Main.hs"].replace("import Old", "import New"),
        });
        const { delta, log } = await step(twins, server, args);
        // Named.hs is restored as Old, which GHC no longer builds: the build is done again, clean.
        assertEquals(delta.redoneClean, 1, log);
        for (const suffix of [".hi", ".o"]) {
          assertEquals(await Deno.stat(`${twins.warm}/out/Old${suffix}`).catch(() => null), null);
        }
      },
    );
    await t.step("no change after the rename: restored under the new name", async () => {
      const { delta, log } = await step(twins, server, args);
      assertEquals(delta.modulesRestored, 4, log);
      assertEquals(delta.redoneClean, 0, log);
    });
  } finally {
    await cleanUp(server, twins);
  }
});

Deno.test("incremental --make: a package rebuilt in place with the same interface changes the key", async (t) => {
  const server = await incrementalServer();
  const installation = await inspectGhc(GHC);
  const depends = await baseUnits(installation.ghcPkg);
  const twins = await Twins.create(server, {
    "src/Use.hs": "module Use (used) where\n\nimport MyLib\n\nused :: Int\nused = libValue + 1\n",
    // The splice runs the package's code: only the package database's identity can tell a rebuild.
    "src/Splice.hs": "{-# LANGUAGE TemplateHaskell #-}\nmodule Splice (spliced) where\n\nimport MyLib\n\n" +
      "spliced :: Int\nspliced = $(libSplice)\n",
    "src/Main.hs": "module Main (main) where\n\nimport Splice\nimport Use\n\nmain :: IO ()\n" +
      "main = print (used, spliced)\n",
  }, "ghcpw-inc-pkg-");
  // Linked dynamically: the package is built as a shared library only.
  const args = ["--make", "-dynamic", "-package-db", "pkg/db", "-package", "mylib", ...OUT, "src/Main.hs"]
    .concat(["src/Use.hs", "src/Splice.hs"]);
  const build = async (version: number) => {
    await buildMyLib(installation, depends, version, `${twins.cold}/pkg`);
    await buildMyLib(installation, depends, version, `${twins.warm}/pkg`);
  };
  const output = async () =>
    (await run(`${twins.warm}/bin/prog`, [], {
      env: { LD_LIBRARY_PATH: `${twins.warm}/pkg/lib` },
    })).stdout;
  try {
    await build(1);
    // GHC's own fingerprint of the interface (9.4 and later also record the source's hash in the file).
    const abiHash = async () =>
      (await run(GHC, ["--show-iface", `${twins.warm}/pkg/build/MyLib.hi`])).stdout.match(/ABI hash: (\S+)/)
        ?.[1];
    const abiBefore = await abiHash();
    assert(abiBefore !== undefined, "no ABI hash in --show-iface's output");
    await t.step("first build, then no change: restored", async () => {
      await step(twins, server, args, { libDir: "pkg/lib" });
      const { delta, log } = await step(twins, server, args, { libDir: "pkg/lib" });
      assertEquals(delta.modulesRestored, 2, log);
      assertEquals(await output(), "(2,1000)\n");
    });
    await t.step("the package rebuilt in place: nothing restored, the splice sees the new code", async () => {
      await build(2);
      assertEquals(
        await abiHash(),
        abiBefore,
        "the rebuilt package must keep its interface: the point is a change GHC's own check cannot see",
      );
      const { delta, log } = await step(twins, server, args, { libDir: "pkg/lib" });
      assertEquals(delta.modulesRestored, 0, log);
      assertMatch(log, /since the last saved build of this target: package state \S+\/pkg\/db changed/);
      assertEquals(await output(), "(3,2000)\n");
    });
    await t.step("no change after the rebuild: restored again", async () => {
      const { delta, log } = await step(twins, server, args, { libDir: "pkg/lib" });
      assertEquals(delta.modulesRestored, 2, log);
    });
  } finally {
    await cleanUp(server, twins);
  }
});

Deno.test("incremental --make: two builds of one target at once both give a cold build's results", async (t) => {
  const server = await incrementalServer();
  const twins = await Twins.create(server, PROJECT, "ghcpw-inc-twice-");
  const args = ["--make", "-Wall", ...OUT, ...SOURCES];
  try {
    // As two build tool invocations would: the same command in the same directories, at the same time.
    await t.step("nothing saved yet", async () => {
      const { delta, log } = await step(twins, server, args, { concurrent: 2 });
      assertEquals(delta.builds, 2, log);
      // One after the other: the second finds the first's outputs and replays their warnings.
      assertMatch(log, /0 kept in the output directories/);
      assertMatch(log, /9 kept in the output directories/);
    });
    await t.step("after an edit, with a saved build to restore", async () => {
      await twins.write({ "src/Leaf.hs": PROJECT["src/Leaf.hs"].replace("leaf = 3", "leaf = 5") });
      const { delta, log } = await step(twins, server, args, { concurrent: 2 });
      assertEquals(delta.modulesRestored, 6, log);
    });
  } finally {
    await cleanUp(server, twins);
  }
});

Deno.test("incremental --make: outputs kept by the build tool (Buck2): skipped modules' warnings are replayed", async (t) => {
  const server = await incrementalServer();
  const twins = await Twins.create(server, PROJECT, "ghcpw-inc-kept-");
  const args = ["--make", "-Wall", ...OUT, ...SOURCES];
  try {
    await t.step("first build", async () => {
      await step(twins, server, args);
    });
    await t.step("no change: GHC skips every module, every warning is replayed", async () => {
      const { warm, delta, log } = await step(twins, server, args, { keep: true });
      assertEquals(delta.modulesRestored, 0, log);
      assert(delta.warningsReplayed > 0, log);
      assert(!warm.stdout.includes("Compiling"), warm.stdout);
    });
    await t.step("a body edit of one module: its warnings from GHC, the others' replayed", async () => {
      await twins.write({
        "src/Warn.hs": PROJECT["src/Warn.hs"].replace("warned = leaf + 1", "warned = leaf + 2"),
      });
      const { warm, delta, log } = await step(twins, server, args, { keep: true });
      assertMatch(warm.stdout, /Compiling Warn /);
      assert(!warm.stdout.includes("Compiling Types "), warm.stdout);
      assert(delta.warningsReplayed > 0, log);
    });
    await t.step("kept files that are not the saved ones: their warnings are not replayed", async () => {
      // Warn's object as a build tool might have kept it from some other build: not what the saved build
      // wrote, so its warnings are unknown. Its time is kept, so GHC still skips it.
      const object = `${twins.warm}/out/Warn.o`;
      const info = await Deno.stat(object);
      await Deno.writeFile(object, new Uint8Array([0]), { append: true });
      await Deno.utime(object, info.atime!, info.mtime!);
      const r = await ghcpw(server.socket, args, twins.warm);
      assertEquals(r.code, 0, r.stderr);
      assert(!r.stdout.includes("Compiling Warn "), r.stdout);
      assert(!r.stderr.includes("src/Warn.hs:"), r.stderr);
      assertMatch(r.stderr, /src\/Leaf\.hs:\d+:\d+: warning/);
    });
  } finally {
    await cleanUp(server, twins);
  }
});

Deno.test("incremental --make: an export added to a module used only through a re-export gives cold's interfaces", async (t) => {
  // Use re-exports A's x: its own exports do not change, so GHC skips User, whose usage of A names only x
  // (unchanged) and not A's exports (A is not imported directly). GHC keeps User's interface, which
  // records A's old module hash; a cold build records the new one.
  const project: Record<string, string> = {
    "src/A.hs": "module A (x) where\n\nx :: Int\nx = 1\n",
    "src/Re.hs": "module Re (x) where\n\nimport A (x)\n",
    "src/User.hs": "module User (user) where\n\nimport Re (x)\n\nuser :: Int\nuser = x + 1\n",
    "src/Main.hs": "module Main (main) where\n\nimport User (user)\n\nmain :: IO ()\nmain = print user\n",
  };
  const server = await incrementalServer();
  const twins = await Twins.create(server, project, "ghcpw-inc-stale-");
  const args = ["--make", "-Wall", ...OUT, "src/Main.hs", "src/A.hs", "src/Re.hs", "src/User.hs"];
  const addExport = (n: number) =>
    twins.write({
      "src/A.hs": project["src/A.hs"].replace("(x)", `(x, y${n})`) + `\ny${n} :: Int\ny${n} = ${n}\n`,
    });
  try {
    await t.step("first build", async () => {
      await step(twins, server, args);
    });
    await t.step("export added, outputs restored", async () => {
      await addExport(1);
      const { delta, log } = await step(twins, server, args);
      assertEquals(delta.modulesRestored, 3, log);
      // GHC skipped User, then compiled it again once its stale interface was reported.
      assertMatch(log, /Stale interfaces .*: compiling User$/m);
      assertEquals(delta.redoneClean, 0, log);
    });
    await t.step("another export added, outputs kept by the build tool", async () => {
      await addExport(2);
      const { log } = await step(twins, server, args, { keep: true });
      assertMatch(log, /Stale interfaces .*: compiling User$/m);
    });
  } finally {
    await cleanUp(server, twins);
  }
});
