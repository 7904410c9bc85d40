/**
 * The cache key of a target state: everything besides the module sources themselves that decides what
 * GHC writes and prints. Two builds share saved outputs only if their keys are equal, so whatever GHC
 * leaves out of its own recompilation check (-W flags, -Werror, paths, a package rebuilt in place with
 * the same interface) must be in here.
 *
 * @module
 */

import { resolve } from "node:path";
import { dirNames } from "./dir.ts";
import { sha256 } from "./hash.ts";

/** What the key hashes. */
export interface KeyParts {
  /** The GHC: its real path, version, libdir, and the identity of its binary and settings. */
  ghc: string;
  /** The command line without the module sources ({@linkcode MakeArgs.keyArgs}). */
  args: readonly string[];
  /** The working directory: the same sources at another path give other call stacks and .hie files. */
  cwd: string;
  /** Variables that change what GHC reads or prints ({@linkcode keyEnvironment}). */
  env: Readonly<Record<string, string>>;
  /** Whether diagnostics are coloured (saved warnings are replayed as printed). */
  colour: boolean;
  /** Each package database and environment file GHC may read, with the identity of its content. */
  packageState: readonly (readonly [string, string])[];
}

/** The key of a target state. */
export function targetKey(parts: KeyParts): string {
  return sha256(JSON.stringify({
    v: 1,
    ghc: parts.ghc,
    args: parts.args,
    cwd: parts.cwd,
    env: Object.entries(parts.env).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
    colour: parts.colour,
    packageState: parts.packageState,
  }));
}

/** The variables of an invocation's environment that GHC reads: its own (GHC_*) and the locale's. */
export function keyEnvironment(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => /^(GHC_|LANG$|LC_)/.test(k)));
}

/**
 * The package databases and environment files GHC may read for this invocation: those named on the
 * command line and in GHC_PACKAGE_PATH / GHC_ENVIRONMENT, the global database, the user's databases and
 * environments, and `.ghc.environment.*` files from the working directory up. Absolute paths.
 */
export async function packageStatePaths(
  cwd: string,
  libdir: string,
  dbs: readonly string[],
  packageEnv: string | undefined,
  env: Readonly<Record<string, string>>,
): Promise<string[]> {
  const paths = [`${libdir}/package.conf.d`, ...dbs.map((db) => resolve(cwd, db))];
  for (const db of (env.GHC_PACKAGE_PATH ?? "").split(":")) if (db !== "") paths.push(resolve(cwd, db));
  for (const file of [packageEnv, env.GHC_ENVIRONMENT]) {
    if (file !== undefined && file !== "" && file !== "-") paths.push(resolve(cwd, file));
  }
  const home = env.HOME;
  if (home) {
    for (const dir of await dirNames(`${home}/.ghc`)) {
      paths.push(`${home}/.ghc/${dir}/package.conf.d`);
      for (const e of await dirNames(`${home}/.ghc/${dir}/environments`)) {
        paths.push(`${home}/.ghc/${dir}/environments/${e}`);
      }
    }
  }
  for (let dir = cwd;; dir = resolve(dir, "..")) {
    for (const name of await dirNames(dir)) {
      if (name.startsWith(".ghc.environment.")) paths.push(`${dir}/${name}`);
    }
    if (dir === "/") break;
  }
  return paths;
}

/**
 * The identity of a package database or environment file: the hash of its content (a database's
 * `package.cache`, which ghc-pkg rewrites on every change, with its time), or "missing".
 */
export async function packageStateOf(path: string): Promise<string> {
  for (const file of [`${path}/package.cache`, path]) {
    try {
      const [bytes, info] = await Promise.all([Deno.readFile(file), Deno.stat(file)]);
      return `${sha256(bytes)}@${info.mtime?.getTime() ?? 0}`;
    } catch {
      // a database without a cache, or not a database: try the path itself
    }
  }
  try {
    // A database directory without a cache: GHC reads its .conf files.
    const listing = [];
    for (const name of (await dirNames(path)).sort()) {
      const info = await Deno.stat(`${path}/${name}`);
      listing.push(`${name}:${info.size}:${info.mtime?.getTime() ?? 0}`);
    }
    return listing.length > 0 ? sha256(listing.join("\n")) : "missing";
  } catch {
    return "missing";
  }
}
