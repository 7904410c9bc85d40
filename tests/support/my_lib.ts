/**
 * A package the suites build into a package database of their own and rebuild in place
 * (lib/plugin/package_build.ts): a library whose value and Template Haskell splice reveal which build
 * of it a compile saw.
 *
 * @module
 */

import { buildPackage } from "../../lib/plugin/package_build.ts";
import { type GhcInstallation, runTool } from "../../lib/ghc/installation.ts";

/** The unit ids of base and template-haskell in a GHC: what the library depends on. */
export async function baseUnits(ghcPkg: string): Promise<string[]> {
  return await Promise.all(
    ["base", "template-haskell"].map(async (p) =>
      (await runTool(ghcPkg, ["field", p, "id", "--simple-output", "--global"])).trim().split(/\s+/)[0]
    ),
  );
}

/**
 * The library's one module: `libValue` is `value`, `libSplice` splices `value * 1000`. Only the value
 * differs between versions, so every version has the same interface.
 */
export function myLib(value: number): Array<[string, string]> {
  return [[
    "MyLib",
    `{-# LANGUAGE TemplateHaskell #-}
module MyLib (libValue, libSplice, Shout (..)) where
import Language.Haskell.TH
libValue :: Int
libValue = ${value}
{-# NOINLINE libValue #-}
libSplice :: Q Exp
libSplice = litE (integerL (fromIntegral (libValue * 1000)))
class Shout a where
  shout :: a -> String
`,
  ]];
}

/**
 * Builds version `value` of the library into `dir` (its database is `dir/db`, its shared library in
 * `dir/lib`), in place of any earlier version, with the same unit id `mylib-1.0-inplace`.
 */
export async function buildMyLib(ghc: GhcInstallation, depends: string[], value: number, dir: string) {
  await buildPackage(ghc, {
    name: "mylib",
    version: "1.0",
    unitId: "mylib-1.0-inplace",
    modules: myLib(value),
    depends,
  }, dir);
}
