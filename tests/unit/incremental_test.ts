/**
 * The pure rules of incremental builds (lib/incremental/): reading a --make command line and a module
 * header, the cache key, the restore plan, LRU eviction, diagnostics, manifests that are corrupt, and the
 * reruns that compile modules with stale interfaces again.
 */

import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { readMakeArgs } from "../../lib/incremental/make_args.ts";
import { readModuleHeader } from "../../lib/incremental/module_header.ts";
import { describeKeyChange, keyEnvironment, type KeyParts, targetKey } from "../../lib/incremental/key.ts";
import { describeSkipped, planRestore } from "../../lib/incremental/plan.ts";
import { chooseEviction } from "../../lib/incremental/lru.ts";
import { parseDiagnostics, replayText, warningsOf } from "../../lib/incremental/diagnostics.ts";
import {
  decodeManifest,
  encodeManifest,
  type Manifest,
  MANIFEST_VERSION,
  ManifestError,
} from "../../lib/incremental/manifest.ts";
import { Store } from "../../lib/incremental/store.ts";
import { moduleOfOutput } from "../../lib/incremental/outputs.ts";
import { compiledModules } from "../../lib/incremental/build.ts";
import { rebuildStale } from "../../lib/incremental/stale.ts";

const H = (c: string) => c.repeat(64);

Deno.test("readMakeArgs separates sources from the key and finds the output directories", () => {
  const m = readMakeArgs([
    "-Wall",
    "-odir",
    "o",
    "-hidir",
    "h",
    "-o",
    "x.hs",
    "A.hs",
    "B.hs-boot",
    "src/B.hs",
  ]);
  assertEquals(m.sources, ["A.hs", "src/B.hs"]);
  assertEquals(m.keyArgs, ["-Wall", "-odir", "o", "-hidir", "h", "-o", "x.hs", "B.hs-boot"]);
  assertEquals(m.outputDirs, ["o", "h"]);
  assertEquals(m.refusal, null);
  assertEquals(readMakeArgs(["-outputdir", "out", "A.hs"]).outputDirs, ["out"]);
});

Deno.test("readMakeArgs refuses what must not be restored", () => {
  const refusal = (args: string[]) => readMakeArgs(["-outputdir", "o", ...args, "A.hs"]).refusal;
  assert(refusal(["-fforce-recomp"])?.includes("-fforce-recomp"));
  assertEquals(refusal(["-fforce-recomp", "-fno-force-recomp"]), null);
  // Whether a module ran splices is known per module, from the build that made its outputs.
  assertEquals(refusal(["-XTemplateHaskell", "-XQuasiQuotes"]), null);
  assert(refusal(["-fplugin=P"]) !== null);
  assert(refusal(["-F", "-pgmF", "pp"])?.includes("-F"));
  assert(refusal(["-ddump-simpl"]) !== null);
  const hie = (args: string[]) => readMakeArgs(["-odir", "o", "-hidir", "h", ...args, "A.hs"]).refusal;
  assert(hie(["-fwrite-ide-info"]) !== null);
  assertEquals(hie(["-fwrite-ide-info", "-hiedir", "e"]), null);
  assert(readMakeArgs(["A.hs"]).refusal?.includes("-odir"));
  assert(readMakeArgs(["-odir", "o", "A.hs"]).refusal !== null);
});

Deno.test("readModuleHeader reads names past comments and pragmas, and notices pragmas that run code", () => {
  assertEquals(
    readModuleHeader("{-# LANGUAGE CPP #-}\n-- hi\n{- a {- nested -} -}\nmodule A.B (x) where\n"),
    {
      name: "A.B",
      pragmaRunsCode: false,
    },
  );
  assertEquals(readModuleHeader("main = pure ()\n").name, "Main");
  assertEquals(readModuleHeader("module X where").name, "X");
  assertEquals(readModuleHeader("#if 1\nmodule X where\n#endif\n").name, null);
  assertEquals(readModuleHeader("{- unterminated").name, null);
  const runsCode = (text: string) => readModuleHeader(text).pragmaRunsCode;
  assertEquals(runsCode("{-# OPTIONS_GHC -fplugin=P #-}\nmodule T where"), true);
  assertEquals(runsCode("{-# OPTIONS_GHC -Wall\n  -fplugin P #-}\nmodule T where"), true);
  assertEquals(runsCode("{-# options_ghc -F -pgmF hspec-discover #-}"), true);
  assertEquals(runsCode("{-# OPTIONS -pgmP ./cpp #-}\nmodule T where"), true);
  // Splices, quasi-quotes and annotations are judged by what GHC ran, not by the text.
  assertEquals(runsCode("{-# LANGUAGE TemplateHaskell, QuasiQuotes #-}\nmodule T where"), false);
  assertEquals(runsCode('module A where\n{-# ANN module "HLint: ignore" #-}'), false);
  // Other flags, and those words outside an options pragma, run nothing.
  assertEquals(runsCode("{-# OPTIONS_GHC -Wall -fno-warn-orphans -Fdummy #-}\nmodule T where"), false);
  assertEquals(runsCode("{-# OPTIONS_GHC -Wall #-}\nmodule T where\n-- -fplugin and -F in a comment"), false);
  assertEquals(readModuleHeader("x", true).name, null);
});

Deno.test("targetKey changes with every part GHC's own check leaves out", () => {
  const base: KeyParts = {
    ghc: "/usr/bin/ghc|9.0.2",
    args: ["-Wall", "-outputdir", "o"],
    cwd: "/w",
    env: {},
    colour: false,
    packageState: [["/db", "abc"]],
  };
  const key = targetKey(base);
  assertEquals(targetKey({ ...base }), key);
  for (
    const changed of [
      { args: ["-Wall", "-Werror", "-outputdir", "o"] },
      { cwd: "/elsewhere" },
      { env: { GHC_PACKAGE_PATH: "/x" } },
      { colour: true },
      { packageState: [["/db", "abd"]] as [string, string][] },
      { ghc: "/usr/bin/ghc|9.0.3" },
    ]
  ) {
    assert(targetKey({ ...base, ...changed }) !== key, JSON.stringify(changed));
  }
  assertEquals(keyEnvironment({ GHC_ENVIRONMENT: "-", LANG: "C", PATH: "/bin", GHCPW_LOG: "x" }), {
    GHC_ENVIRONMENT: "-",
    LANG: "C",
  });
});

Deno.test("describeKeyChange names each part that differs", () => {
  const base: KeyParts = {
    ghc: "g",
    args: ["-Wall", "-outputdir", "o"],
    cwd: "/w",
    env: { LANG: "C" },
    colour: false,
    packageState: [["/global", "a"], ["/db", "b"]],
  };
  assertEquals(describeKeyChange(base, { ...base }), []);
  assertEquals(
    describeKeyChange(base, {
      ghc: "h",
      args: ["-outputdir", "o", "-Werror"],
      cwd: "/v",
      env: { GHC_ENVIRONMENT: "-" },
      colour: true,
      packageState: [["/global", "c"], ["/env", "d"]],
    }),
    [
      "the GHC (binary, version, libdir or settings) or --share",
      "the command line (+-Werror --Wall)",
      "the working directory (was /w)",
      "LANG unset",
      "GHC_ENVIRONMENT set",
      "coloured diagnostics on",
      "package state /global changed",
      "package state /env now read",
      "package state /db no longer read",
    ],
  );
  assertEquals(describeKeyChange(base, { ...base, args: ["-outputdir", "o", "-Wall"] }), [
    "the order of the command line's flags",
  ]);
  assertEquals(describeKeyChange(base, { ...base, env: { LANG: "en_GB.UTF-8" } }), ["LANG (was C)"]);
});

const record = (module: string, source: string, sourceHash = H("a"), bootHash: string | null = null) => ({
  module,
  source,
  sourceHash,
  bootHash,
  files: [{ dir: "o", path: `${module}.hi`, hash: H("f"), size: 1 }],
  ranCode: false,
  warnings: [],
});

Deno.test("planRestore restores only unchanged, unambiguous modules of the source list", () => {
  const current = (source: string, module: string | null, over = {}) => ({
    source,
    module,
    sourceHash: H("a"),
    bootHash: null,
    pragmaRunsCode: false,
    ...over,
  });
  const saved = [
    record("A", "A.hs"),
    record("B", "B.hs"),
    record("C", "C.hs"),
    record("D", "D.hs"),
    record("Gone", "Gone.hs"),
    record("E", "E.hs"),
    record("F", "F.hs"),
    record("G", "G.hs"),
    { ...record("T", "T.hs"), ranCode: true },
    record("P", "P.hs"),
  ];
  const plan = planRestore(saved, [
    current("A.hs", "A"),
    current("B.hs", "B", { sourceHash: H("b") }),
    current("C.hs", "C", { bootHash: H("c") }),
    current("D.hs", "D"),
    current("E.hs", "Renamed"),
    current("F.hs", "F"),
    current("G.hs", "G"),
    current("G2.hs", "G"),
    current("T.hs", "T"),
    current("P.hs", "P", { pragmaRunsCode: true }),
  ], new Set(["F"]));
  // D's source once mentioned splices, perhaps, but its build ran none: restored like any other.
  assertEquals(plan.restore.map((r) => r.module), ["A", "D"]);
  // F's outputs are in the directories already: left to GHC, and known if they are F's saved ones.
  assertEquals(plan.kept.map((r) => r.module), ["F"]);
  assertEquals(plan.skipped.map((s) => [s.module, s.reason]), [
    ["B", "its source changed"],
    ["C", "its boot file changed"],
    ["Gone", "not in the source list"],
    ["E", "its name changed"],
    ["G", "more than one source has its name"],
    ["T", "it ran Template Haskell, a quasi-quote or an annotation when compiled"],
    ["P", "its OPTIONS_GHC runs a plugin or program (-fplugin, -F, -pgm...)"],
    ["G", "nothing saved for it"],
  ]);
  const fresh = planRestore([], [
    current("N.hs", "N"),
    current("X.hs", null),
  ], new Set());
  assertEquals(fresh.skipped.map((s) => [s.module, s.reason]), [
    ["N", "nothing saved for it"],
    ["X.hs", "nothing saved for it"],
  ]);
  assertEquals(
    describeSkipped([plan.skipped[0], plan.skipped[1], fresh.skipped[0], plan.skipped.at(-1)!]),
    "its source changed: B; its boot file changed: C; nothing saved for it: N, G",
  );
});

Deno.test("planRestore takes a source's unreadable name from its record only while the source is as saved", () => {
  const current = (source: string, over = {}) => ({
    source,
    module: null,
    sourceHash: H("a"),
    bootHash: null,
    pragmaRunsCode: false,
    ...over,
  });
  const saved = [record("Cpp", "Cpp.hs"), record("Edited", "Edited.hs"), record("Twice", "Twice.hs")];
  const plan = planRestore(saved, [
    current("Cpp.hs"),
    current("Edited.hs", { sourceHash: H("b") }),
    current("Twice.hs"),
    { ...current("Other.hs"), module: "Twice" },
  ], new Set());
  assertEquals(plan.restore.map((r) => r.module), ["Cpp"]);
  assertEquals(plan.skipped.map((s) => [s.module, s.reason]), [
    ["Edited", "its source changed"],
    ["Twice", "more than one source has its name"],
    ["Twice", "nothing saved for it"],
  ]);
  // A header that names another module than the one saved for the source.
  assertEquals(planRestore(saved, [{ ...current("Cpp.hs"), module: "Other" }], new Set()).skipped[0], {
    module: "Cpp",
    reason: "its name changed",
  });
});

Deno.test("planRestore keeps a module that ran splices whose outputs a build tool kept", () => {
  const current = { source: "T.hs", module: "T", sourceHash: H("a"), bootHash: null, pragmaRunsCode: false };
  const saved = [{ ...record("T", "T.hs"), ranCode: true }];
  assertEquals(planRestore(saved, [current], new Set(["T"])).kept.map((r) => r.module), ["T"]);
  assertEquals(planRestore(saved, [current], new Set()).restore, []);
  assertEquals(planRestore(saved, [{ ...current, sourceHash: H("b") }], new Set(["T"])).kept, []);
});

Deno.test("chooseEviction drops least recently used entries and files only they use", () => {
  const blobs = new Map([
    ["shared", { size: 100, touchedAt: 0 }],
    ["old", { size: 300, touchedAt: 0 }],
    ["new", { size: 300, touchedAt: 0 }],
    ["orphan-old", { size: 50, touchedAt: 0 }],
    ["orphan-young", { size: 50, touchedAt: 990 }],
  ]);
  const entries = [
    { key: "k-old", usedAt: 1, size: 10, blobs: ["shared", "old"] },
    { key: "k-new", usedAt: 2, size: 10, blobs: ["shared", "new"] },
  ];
  const none = chooseEviction(entries, blobs, 10_000, 1000, 100);
  assertEquals(none, { entries: [], blobs: ["orphan-old"], remainingBytes: 770 });
  const one = chooseEviction(entries, blobs, 500, 1000, 100);
  assertEquals(one.entries, ["k-old"]);
  assertEquals(one.blobs.sort(), ["old", "orphan-old"]);
  assertEquals(one.remainingBytes, 460);
  const all = chooseEviction(entries, blobs, 1, 1000, 100);
  assertEquals(all.entries, ["k-old", "k-new"]);
  assertEquals(all.remainingBytes, 50);
});

Deno.test("parseDiagnostics attributes messages to files; replay prints them as GHC does", () => {
  const stderr = "\nsrc/A.hs:2:1: warning: [-Wunused-imports]\n    The import is redundant\n  |\n" +
    "2 | import Data.List\n  | ^^^^\n\nB.hs:(3,1)-(4,2): error:\n    bad\n\nLinking...\n" +
    "\n./src/A.hs:5:9-12: warning: [GHC-40910] [-Wunused-local-binds]\n    z\n";
  const d = parseDiagnostics(stderr);
  assertEquals(d.map((x) => [x.file, x.severity]), [["src/A.hs", "warning"], ["B.hs", "error"], [
    "./src/A.hs",
    "warning",
  ]]);
  const warnings = warningsOf(d, "src/A.hs");
  assertEquals(warnings.length, 2);
  assert(replayText(warnings).startsWith("\nsrc/A.hs:2:1: warning"));
  assert(stderr.includes(replayText(warnings.slice(0, 1))));
  assertEquals(warningsOf(d, "B.hs"), []);
});

Deno.test("decodeManifest detects corruption, truncation, other versions and other keys", () => {
  const manifest: Manifest = { version: MANIFEST_VERSION, key: "k", modules: [record("A", "A.hs")] };
  const text = encodeManifest(manifest);
  assertEquals(decodeManifest(text, "k"), manifest);
  assertThrows(() => decodeManifest(text.slice(0, text.length - 5), "k"), ManifestError);
  assertThrows(() => decodeManifest(text.replace('"A"', '"B"'), "k"), ManifestError);
  assertThrows(() => decodeManifest("", "k"), ManifestError);
  assertThrows(() => decodeManifest(text, "other"), ManifestError);
  const escape = {
    ...manifest,
    modules: [{ ...record("A", "A.hs"), files: [{ dir: "o", path: "../x", hash: H("f"), size: 1 }] }],
  };
  assertThrows(() => decodeManifest(encodeManifest(escape), "k"), ManifestError);
  assertThrows(() => decodeManifest(encodeManifest({ ...manifest, version: 1 }), "k"), ManifestError);
  // A record that does not say whether its module ran code (version 2's) is never read as one that did not.
  const { ranCode: _, ...unsaid } = record("A", "A.hs");
  const older = { ...manifest, modules: [unsaid] } as unknown as Manifest;
  assertThrows(() => decodeManifest(encodeManifest(older), "k"), ManifestError);
});

Deno.test("moduleOfOutput attributes every kind of output file to its module", () => {
  for (
    const path of [
      "A/B.hi",
      "A/B.o",
      "A/B.dyn_hi",
      "A/B.dyn_o",
      "A/B.hi-boot",
      "A/B.o-boot",
      "A/B.hie",
      "A/B_stub.h",
    ]
  ) {
    assertEquals(moduleOfOutput(path), "A.B", path);
  }
  assertEquals(moduleOfOutput("prog"), null);
  assertEquals(moduleOfOutput("lower/B.hi"), null);
});

Deno.test("compiledModules: Compiling lines, rewritten restored files, and new outputs", () => {
  const f = (path: string, mtimeMs: number, size = 1) => ({ dir: "o", path, size, mtimeMs });
  const restored = [record("A", "A.hs"), record("B", "B.hs")];
  const after = new Map([["A", [f("A.hi", 50)]], ["B", [f("B.hi", 77)]], ["C", [f("C.hi", 80)]], ["K", [
    f("K.hi", 5),
  ]]]);
  const before = new Map([["K", [f("K.hi", 5)]]]);
  const compiled = compiledModules(
    "[1 of 4] Compiling D[boot] ( D.hs-boot, o/D.o-boot )\n[2 of 4] Compiling Z ( Z.hs, o/Z.o )\n",
    after,
    before,
    restored,
    50,
  );
  assertEquals([...compiled].sort(), ["B", "C", "Z"]);
});

Deno.test("Store keeps each target's last key parts while its entry lives", async () => {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-store-" });
  try {
    const store = new Store(root, 10_000);
    const parts: KeyParts = { ghc: "g", args: [], cwd: "/w", env: {}, colour: false, packageState: [] };
    await store.writeManifest({ version: MANIFEST_VERSION, key: "k1", modules: [] });
    await store.writeTarget("t1", { key: "k1", parts });
    await store.writeTarget("t2", { key: "gone", parts });
    assertEquals(await store.readTarget("t1"), { key: "k1", parts });
    assertEquals(await store.readTarget("missing"), null);
    await Deno.writeTextFile(`${root}/targets/t3`, "{ not json");
    assertEquals(await store.readTarget("t3"), null);
    // Young records may belong to a save in progress; old ones go once their entry is gone or unreadable.
    await store.evict();
    assertEquals((await store.readTarget("t2"))?.key, "gone");
    await store.evict(Date.now() + 60 * 60 * 1000);
    assertEquals((await store.readTarget("t1"))?.key, "k1");
    assertEquals(await store.readTarget("t2"), null);
    assertEquals(await Deno.stat(`${root}/targets/t3`).catch(() => null), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rebuildStale removes the stale modules' outputs and runs again until none is reported", async () => {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-stale-" });
  try {
    await Deno.mkdir(`${root}/out/Data`, { recursive: true });
    for (const f of ["Data/A.hi", "Data/A.o", "Data/A.dyn_hi", "B.hi", "B.o"]) {
      await Deno.writeTextFile(`${root}/out/${f}`, "x");
    }
    const left = () => [...Deno.readDirSync(`${root}/out`)].map((e) => e.name).sort();
    let reruns = 0;
    const settled = await rebuildStale(root, ["out"], { code: 0, staleModules: ["Data.A"] }, () => {
      reruns++;
      assertEquals(left(), ["B.hi", "B.o", "Data"]);
      assertEquals([...Deno.readDirSync(`${root}/out/Data`)], []);
      return Promise.resolve({ code: 0, staleModules: [] });
    });
    assertEquals(settled, { code: 0, settled: true });
    assertEquals(reruns, 1);

    // A run that does not say (the real ghc ran) leaves it unsettled; so do reruns that never end.
    assertEquals(await rebuildStale(root, ["out"], { code: 0 }, () => Promise.reject("no rerun")), {
      code: 0,
      settled: false,
    });
    reruns = 0;
    const endless = await rebuildStale(root, ["out"], { code: 0, staleModules: ["B"] }, () => {
      reruns++;
      return Promise.resolve({ code: 0, staleModules: ["B"] });
    });
    assertEquals(endless, { code: 0, settled: false });
    assert(reruns > 1 && reruns < 20, `${reruns} reruns`);
    // A failed rerun is the build's outcome; nothing after it.
    const failed = await rebuildStale(
      root,
      ["out"],
      { code: 0, staleModules: ["B"] },
      () => Promise.resolve({ code: 1, staleModules: ["B"] }),
    );
    assertEquals(failed, { code: 1, settled: true });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
