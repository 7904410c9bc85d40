/**
 * Building a Haskell library into a package database of its own with nothing but ghc and ghc-pkg: the
 * modules compiled for both ways a dynamic GHC needs (.hi/.o and .dyn_hi/.dyn_o), linked into the
 * shared library GHC loads for plugins and Template Haskell, and registered with paths relative to
 * the database (`${pkgroot}`), so the whole directory can be moved or renamed after the build.
 *
 * @module
 */

import { type GhcInstallation, runTool } from "../ghc/installation.ts";

/** A library to build. */
export interface PackageSpec {
  name: string;
  version: string;
  unitId: string;
  /** Module name → source text. */
  modules: ReadonlyArray<readonly [string, string]>;
  /** Exact unit ids the library depends on. */
  depends: string[];
  /** C sources: path relative to the package's source directory → source text. */
  cSources?: ReadonlyArray<readonly [string, string]>;
  /** Extra ghc flags for compiling (optimisation and the like). */
  ghcFlags?: string[];
}

/**
 * Builds `spec` into `dir` (src/, build/, lib/ and the database db/). Rebuilding into the same directory
 * replaces the library in place, keeping its unit id and paths.
 */
export async function buildPackage(ghc: GhcInstallation, spec: PackageSpec, dir: string): Promise<void> {
  const cSources = spec.cSources ?? [];
  for (
    const [path, source] of [
      ...spec.modules.map(([m, s]) => [`${m.replaceAll(".", "/")}.hs`, s]),
      ...cSources,
    ]
  ) {
    const full = `${dir}/src/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, source);
  }
  const env = { ...Deno.env.toObject(), GHC_ENVIRONMENT: "-" };
  const packageFlags = ["-hide-all-packages", ...spec.depends.flatMap((u) => ["-package-id", u])];
  await runTool(ghc.ghc, [
    "--make",
    "-no-link",
    "-dynamic-too",
    "-fPIC",
    ...spec.ghcFlags ?? [],
    "-this-unit-id",
    spec.unitId,
    ...packageFlags,
    `-i${dir}/src`,
    "-odir",
    `${dir}/build`,
    "-hidir",
    `${dir}/build`,
    ...spec.modules.map(([m]) => m),
  ], { env });
  // ghc compiles C with the RTS's headers on the include path, as cabal's c-sources are.
  const cObjects = cSources.map(([path]) => `${dir}/build/${path.replace(/\.c$/, "")}.o`);
  for (const [i, [path]] of cSources.entries()) {
    await Deno.mkdir(cObjects[i].slice(0, cObjects[i].lastIndexOf("/")), { recursive: true });
    await runTool(ghc.ghc, ["-c", "-fPIC", ...spec.ghcFlags ?? [], `${dir}/src/${path}`, "-o", cObjects[i]], {
      env,
    });
  }
  await Deno.mkdir(`${dir}/lib`, { recursive: true });
  await runTool(ghc.ghc, [
    "-shared",
    "-dynamic",
    "-o",
    `${dir}/lib/libHS${spec.unitId}-ghc${ghc.version}.so`,
    ...packageFlags,
    ...spec.modules.map(([m]) => `${dir}/build/${m.replaceAll(".", "/")}.dyn_o`),
    ...cObjects,
  ], { env });
  try {
    await Deno.stat(`${dir}/db/package.cache`);
  } catch {
    await runTool(ghc.ghcPkg, ["init", `${dir}/db`]);
  }
  const conf = [
    `name: ${spec.name}`,
    `version: ${spec.version}`,
    `id: ${spec.unitId}`,
    `key: ${spec.unitId}`,
    `exposed: True`,
    `exposed-modules: ${spec.modules.map(([m]) => m).join(" ")}`,
    // ${pkgroot} is the directory holding the database, so the entry survives moving the directory.
    `import-dirs: \${pkgroot}/build`,
    `library-dirs: \${pkgroot}/lib`,
    `dynamic-library-dirs: \${pkgroot}/lib`,
    `hs-libraries: HS${spec.unitId}`,
    `depends: ${spec.depends.join(" ")}`,
  ].join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/${spec.name}.conf`, conf);
  // --force: no static archive is built (a dynamic GHC loads the shared library).
  await runTool(ghc.ghcPkg, ["update", "--package-db", `${dir}/db`, "--force", `${dir}/${spec.name}.conf`]);
}
