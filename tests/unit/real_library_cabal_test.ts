import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  type CabalEnvironment,
  compareVersions,
  dependencyNames,
  evalCondition,
  flagDefaults,
  inVersionRange,
  libraryInfo,
  parseCabal,
} from "../../scripts/real_library/cabal_file.ts";
import { cFlags, ghcFlags, outputFlags } from "../../scripts/real_library/ghc_flags.ts";
import { cabalMacroNeeded } from "../../scripts/real_library/source_tree.ts";

/** Runs `f` and returns the message of the error it throws (the test fails if it throws none). */
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error("expected an error");
}

/** A .cabal file that uses what the reader supports: flags, common stanzas, if/elif/else, continuation lines. */
const CABAL = `cabal-version: 3.0
name:          demo
version:       1.2.3
-- a comment

flag fast
  description: go fast
  default:     False
  manual:      True

flag tests
  description: no default: True

common warnings
  ghc-options: -Wall

library
  import:           warnings
  exposed-modules:  Demo
                    Demo.Internal
  other-modules:    Demo.Util
  hs-source-dirs:   src
  build-depends:    base >= 4.9 && < 5,
                    containers ^>= 0.6,
                    demo
  default-language: Haskell2010
  default-extensions: CPP, BangPatterns
  c-sources:        cbits/demo.c
  include-dirs:     include
  cc-options:       -O3
  if flag(fast)
    cpp-options: -DFAST
  elif impl(ghc >= 9.4)
    cpp-options: -DNEW_GHC
  else
    cpp-options: -DOLD_GHC
    build-depends: transformers
  if os(windows)
    c-sources: cbits/win.c

test-suite spec
  type:          exitcode-stdio-1.0
  main-is:       Spec.hs
  build-depends: hspec
`;

const GHC_90 = { ghcVersion: "9.0.2", os: "linux", arch: "x86_64" };

Deno.test("a .cabal file parses into fields and sections; comments dropped, continuation lines joined", () => {
  const items = parseCabal(CABAL);
  assertEquals(items[0], { kind: "field", name: "cabal-version", value: "3.0" });
  const library = items.find((i) => i.kind === "section" && i.header === "library");
  assert(library?.kind === "section");
  assertEquals(library.items[1], {
    kind: "field",
    name: "exposed-modules",
    value: "Demo\nDemo.Internal",
  });
  const conditional = library.items.find((i) => i.kind === "if");
  assert(conditional?.kind === "if");
  assertEquals(conditional.condition, "flag(fast)");
  assertEquals(conditional.else[0].kind, "if", "elif is an if in the else branch");
  assertEquals(items.filter((i) => i.kind === "section").map((i) => i.kind === "section" && i.args), [
    "fast",
    "tests",
    "warnings",
    "",
    "spec",
  ]);
});

Deno.test("an else without an if is an error", () => {
  assertMatch(errorOf(() => parseCabal("library\n  else\n    x: y\n")), /without a preceding if/);
});

Deno.test("flags default to their declared default, and to True without one (as in Cabal)", () => {
  assertEquals(flagDefaults(parseCabal(CABAL)), new Map([["fast", false], ["tests", true]]));
});

Deno.test("versions compare numerically, missing components as zero", () => {
  assert(compareVersions("9.10.1", "9.6.6") > 0);
  assertEquals(compareVersions("9.4", "9.4.0"), 0);
  assert(compareVersions("0.6", "0.6.1") < 0);
});

Deno.test("version ranges: bounds, conjunctions, disjunctions, wildcards and ^>=", () => {
  assert(inVersionRange("9.0.2", ">= 8.6 && < 9.4"));
  assert(!inVersionRange("9.4.1", ">= 8.6 && < 9.4"));
  assert(inVersionRange("9.6.6", "< 9 || == 9.6.*"));
  assert(!inVersionRange("9.60", "== 9.6.*"));
  assert(inVersionRange("0.6.5", "^>= 0.6.2"));
  assert(!inVersionRange("0.7", "^>= 0.6.2"));
  assert(inVersionRange("1.0", "-any"));
  assertMatch(errorOf(() => inVersionRange("1.0", "~> 1")), /unsupported version range/);
});

Deno.test("conditions: flags, impl, os, arch, negation, precedence and parentheses", () => {
  const env: CabalEnvironment = { ...GHC_90, flags: new Map([["fast", true], ["tests", false]]) };
  assert(evalCondition("flag(fast)", env));
  assert(evalCondition("!flag(tests) && impl(ghc >= 9.0)", env));
  assert(evalCondition("flag(tests) && os(windows) || arch(x86_64)", env), "&& binds tighter than ||");
  assert(!evalCondition("flag(tests) && (os(windows) || arch(x86_64))", env));
  assert(!evalCondition("impl(ghcjs)", env));
  assert(evalCondition("true", env));
  assertMatch(errorOf(() => evalCondition("flag(nope)", env)), /unknown flag 'nope'/);
  assertMatch(errorOf(() => evalCondition("os(linux) && && arch(x86_64)", env)), /cannot parse/);
  assertMatch(errorOf(() => evalCondition("(os(linux)", env)), /unbalanced/);
});

Deno.test("build-depends gives package names without ranges; a sublibrary dependency is refused", () => {
  assertEquals(dependencyNames(["base >= 4 && < 5, containers", "base, text >=1"]), [
    "base",
    "containers",
    "text",
  ]);
  assertMatch(errorOf(() => dependencyNames(["vector:benchmarks"])), /sublibrary dependency/);
});

Deno.test("the library stanza resolves conditionals and common stanzas, not other components", () => {
  const info = libraryInfo(CABAL, GHC_90);
  assertEquals(info, {
    name: "demo",
    version: "1.2.3",
    exposedModules: ["Demo", "Demo.Internal"],
    otherModules: ["Demo.Util"],
    sourceDirs: ["src"],
    language: "Haskell2010",
    extensions: ["CPP", "BangPatterns"],
    cppOptions: ["-DOLD_GHC"],
    ccOptions: ["-O3"],
    includeDirs: ["include"],
    cSources: ["cbits/demo.c"],
    ghcOptions: ["-Wall"],
    // its own name (a test-suite's dependency on the library) is not a dependency of the library
    dependencies: ["base", "containers", "transformers"],
  });
  assertEquals(libraryInfo(CABAL, { ...GHC_90, ghcVersion: "9.6.6" }).cppOptions, ["-DNEW_GHC"]);
  assertEquals(libraryInfo(CABAL, GHC_90, new Map([["Fast", true]])).cppOptions, ["-DFAST"]);
});

Deno.test("a file without a main library, or importing an unknown common stanza, is an error", () => {
  assertMatch(errorOf(() => libraryInfo("name: x\nversion: 1\n", GHC_90)), /no \(main\) library stanza/);
  assertMatch(
    errorOf(() => libraryInfo("name: x\nlibrary\n  import: nope\n", GHC_90)),
    /unknown common stanza 'nope'/,
  );
});

Deno.test("ghc flags expose only the dependencies by unit id, as Cabal builds the library", () => {
  const info = libraryInfo(CABAL, GHC_90);
  assertEquals(ghcFlags(info, ["base-4.15", "containers-0.6"]), [
    "-no-user-package-db",
    "-hide-all-packages",
    "-package-id",
    "base-4.15",
    "-package-id",
    "containers-0.6",
    "-this-unit-id",
    "demo-1.2.3-inplace",
    "-i",
    "-isrc",
    "-Iinclude",
    "-XHaskell2010",
    "-XCPP",
    "-XBangPatterns",
    "-optP-DOLD_GHC",
    "-Wall",
  ]);
  assertEquals(outputFlags("dist/build"), [
    "-idist/build",
    "-odir",
    "dist/build",
    "-hidir",
    "dist/build",
    "-stubdir",
    "dist/build",
  ]);
  assertEquals(cFlags(info, "out"), [
    "-no-user-package-db",
    "-Iinclude",
    "-optc-O3",
    "-optc-DOLD_GHC",
    ...outputFlags("out"),
  ]);
});

Deno.test("a source needs cabal_macros.h for a Cabal macro it uses without defining it", () => {
  assertEquals(
    cabalMacroNeeded("#if MIN_VERSION_base(4,9,0)\nx = 1\n#endif\n"),
    null,
    "GHC defines MIN_VERSION_",
  );
  assertEquals(
    cabalMacroNeeded("#ifdef VERSION_ghc_bignum\nimport GHC.Num.BigNat\n#endif\n"),
    "VERSION_ghc_bignum",
  );
  assertEquals(cabalMacroNeeded("v = CURRENT_PACKAGE_VERSION\n"), "CURRENT_PACKAGE_VERSION");
  const fallback = `#ifndef MIN_TOOL_VERSION_haddock
#define MIN_TOOL_VERSION_haddock(x,y,z) 0
#endif
#if !(defined(__HADDOCK_VERSION__)) || MIN_TOOL_VERSION_haddock(2,14,0)
`;
  assertEquals(cabalMacroNeeded(fallback), null);
  assertEquals(cabalMacroNeeded(`${fallback}#ifdef VERSION_text\n#endif\n`), "VERSION_text");
});
