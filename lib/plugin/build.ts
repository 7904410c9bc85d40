/**
 * Builds and registers ghcpw's Haskell frontend plugin for a given GHC, without cabal: the sources are
 * embedded in the program, compiled with that GHC against the exact units its `ghc` package depends on,
 * linked into a shared library (Debian's and most GHCs are dynamic and load plugins as .so files), and
 * registered in a package database of their own.
 *
 * Results are cached per user, keyed by the GHC's version, libdir and `ghc` unit identity and by the
 * plugin sources' hash. A build happens in a private directory that is renamed into place when complete,
 * so servers starting at once never see or produce a half-built cache entry.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import pluginMain from "./GhcpwPlugin.hs" with { type: "text" };
import frameModule from "./Ghcpw/Frame.hs" with { type: "text" };
import contextModule from "./Ghcpw/Context.hs" with { type: "text" };
import stdioModule from "./Ghcpw/Stdio.hs" with { type: "text" };
import parentModule from "./Ghcpw/Parent.hs" with { type: "text" };
import driverModule from "./Ghcpw/Driver.hs" with { type: "text" };
import compatModule from "./Ghcpw/Compat.hs" with { type: "text" };
import targetsModule from "./Ghcpw/Targets.hs" with { type: "text" };
import interfacesModule from "./Ghcpw/Interfaces.hs" with { type: "text" };
import pruneModule from "./Ghcpw/Prune.hs" with { type: "text" };
import ranCodeModule from "./Ghcpw/RanCode.hs" with { type: "text" };
import usagesModule from "./Ghcpw/Usages.hs" with { type: "text" };
import staleModule from "./Ghcpw/Stale.hs" with { type: "text" };
import sourcesModule from "./Ghcpw/Sources.hs" with { type: "text" };
import terminalModule from "./Ghcpw/Terminal.hs" with { type: "text" };
import warmModule from "./Ghcpw/Warm.hs" with { type: "text" };
import codeModule from "./Ghcpw/Code.hs" with { type: "text" };
import factsModule from "./Ghcpw/Facts.hs" with { type: "text" };
import stagesModule from "./Ghcpw/Stages.hs" with { type: "text" };
import leftoversModule from "./Ghcpw/Leftovers.hs" with { type: "text" };
import memoryModule from "./Ghcpw/Memory.hs" with { type: "text" };
import liveThreadsSource from "./cbits/live_threads.c" with { type: "text" };
import mergedExecSource from "./exec/merged_exec.c" with { type: "text" };
import { GhcError, type GhcInstallation, runTool } from "../ghc/installation.ts";
import { buildPackage } from "./package_build.ts";
import { cacheDir } from "../address/paths.ts";

const log = getLogger(["ghcpw", "plugin"]);

/** The plugin's modules: module name and source. */
export const PLUGIN_SOURCES: ReadonlyArray<readonly [string, string]> = [
  ["GhcpwPlugin", pluginMain],
  ["Ghcpw.Frame", frameModule],
  ["Ghcpw.Context", contextModule],
  ["Ghcpw.Stdio", stdioModule],
  ["Ghcpw.Parent", parentModule],
  ["Ghcpw.Driver", driverModule],
  ["Ghcpw.Compat", compatModule],
  ["Ghcpw.Targets", targetsModule],
  ["Ghcpw.Interfaces", interfacesModule],
  ["Ghcpw.Prune", pruneModule],
  ["Ghcpw.RanCode", ranCodeModule],
  ["Ghcpw.Usages", usagesModule],
  ["Ghcpw.Stale", staleModule],
  ["Ghcpw.Sources", sourcesModule],
  ["Ghcpw.Terminal", terminalModule],
  ["Ghcpw.Warm", warmModule],
  ["Ghcpw.Code", codeModule],
  ["Ghcpw.Facts", factsModule],
  ["Ghcpw.Stages", stagesModule],
  ["Ghcpw.Leftovers", leftoversModule],
  ["Ghcpw.Memory", memoryModule],
];

/** The plugin's C sources: path (as in the cabal file's c-sources) and source. */
export const PLUGIN_C_SOURCES: ReadonlyArray<readonly [string, string]> = [
  ["cbits/live_threads.c", liveThreadsSource],
];

/** The name of the merged-output helper (exec/merged_exec.c) in a plugin's directory, under bin/. */
const MERGED_EXEC = "ghcpw-merged-exec";

/** The module GHC runs with --frontend. */
export const PLUGIN_MODULE = "GhcpwPlugin";

/** Packages the plugin always imports: the unconditional build-depends of lib/plugin/ghcpw-plugin.cabal. */
export const REQUIRED_PACKAGES = [
  "base",
  "bytestring",
  "containers",
  "directory",
  "exceptions",
  "filepath",
  "ghc",
  "ghc-boot",
  "process",
  "time",
  "unix",
];
/** Packages used when the GHC itself depends on them: the cabal file's conditional build-depends. */
export const OPTIONAL_PACKAGES = ["terminfo"];

/**
 * The workers' allocation area (nursery). With GHC's 1 MB, much of a compile's short-lived data outlives
 * its minor collection and is copied, and a worker's old generation holds the interfaces it keeps, so its
 * major collections cost more than a fresh ghc's: on the benchmark's synthetic project (GHC 9.0.2, -O0,
 * one-shot compiles, interleaved runs) workers spent 24–32 ms of each compile collecting garbage with 1 MB,
 * 15 ms with 32 MB, 11–13 ms with 64 MB and 5 ms with 256 MB, where a larger area no longer made compiles
 * faster. It costs each worker up to that much more resident memory. Outputs do not depend on it.
 */
export const WORKER_ALLOCATION_AREA = "64m";

/** A built and registered plugin. */
export interface BuiltPlugin {
  unitId: string;
  packageDb: string;
  /** The program that runs ghc with its stderr on its stdout (exec/merged_exec.c), built beside it. */
  mergedExec: string;
}

/**
 * Arguments that make a ghc run the plugin as a worker. The runtime options are for the worker's heap:
 * `-T` lets it read the runtime's own statistics (GHC.Stats), which it reports for `ghcpw status`;
 * `--disable-delayed-os-memory-return` makes memory it gives back (lib/plugin/Ghcpw/Memory.hs) leave its
 * resident set at once, so that `--max-rss` judges what a worker really holds; and a 64 MB allocation area
 * (GHC's default is 1 MB; {@linkcode WORKER_ALLOCATION_AREA}).
 */
export function workerArgs(plugin: BuiltPlugin): string[] {
  return [
    "+RTS",
    "-T",
    "--disable-delayed-os-memory-return",
    `-A${WORKER_ALLOCATION_AREA}`,
    "-RTS",
    "--frontend",
    PLUGIN_MODULE,
    "-plugin-package-id",
    plugin.unitId,
    "-package-db",
    plugin.packageDb,
  ];
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The unit ids, by package name, of what the installation's `ghc` package depends on (and ghc itself). */
async function ghcDependencies(ghc: GhcInstallation): Promise<Map<string, string>> {
  const out = await runTool(ghc.ghcPkg, ["field", "ghc", "depends", "--simple-output", "--global"]);
  const ids = [ghc.ghcUnitId, ...out.trim().split(/\s+/).filter((s) => s !== "")];
  return new Map(ids.map((id) => [id.replace(/-\d+(\.\d+)*(-[^-]*)?$/, ""), id]));
}

/**
 * Returns the plugin for this GHC, building it on first use (tens of seconds, once per GHC and ghcpw
 * version). Throws {@linkcode GhcError} with advice when the GHC cannot build it.
 */
export async function ensurePlugin(
  ghc: GhcInstallation,
  root = `${cacheDir()}/plugins`,
): Promise<BuiltPlugin> {
  if (ghc.ghcUnitId === "") {
    throw new GhcError(
      `${ghc.ghc} (GHC ${ghc.version}) has no "ghc" package, which ghcpw's plugin is built against. ` +
        `Use a GHC installation that ships its library (ghcup, Debian and the official bindists do), ` +
        `or point --ghc-pkg at the ghc-pkg that knows it.`,
    );
  }
  const key = await sha256Hex(JSON.stringify({
    sources: PLUGIN_SOURCES,
    cSources: PLUGIN_C_SOURCES,
    mergedExec: mergedExecSource,
    version: ghc.version,
    libdir: ghc.libdir,
    unit: ghc.ghcUnitId,
    abi: ghc.ghcAbi,
  }));
  const unitId = `ghcpw-plugin-${key.slice(0, 16)}`;
  const dir = `${root}/ghc-${ghc.version}-${key.slice(0, 16)}`;
  const plugin = { unitId, packageDb: `${dir}/db`, mergedExec: `${dir}/bin/${MERGED_EXEC}` };
  if (await exists(`${dir}/db/package.cache`)) return plugin;

  await Deno.mkdir(root, { recursive: true });
  const work = await Deno.makeTempDir({ dir: root, prefix: ".build-" });
  try {
    log.info(
      "Building the ghcpw plugin for GHC {version} into {dir} (once per GHC and ghcpw version; a few seconds to a minute)",
      {
        version: ghc.version,
        dir,
      },
    );
    const started = performance.now();
    await buildInto(ghc, unitId, work);
    try {
      await Deno.rename(work, dir);
    } catch (e) {
      // Another server finished first; its complete entry is as good as ours.
      if (!await exists(`${dir}/db/package.cache`)) throw e;
    }
    log.info("Built the ghcpw plugin in {seconds} s", {
      seconds: ((performance.now() - started) / 1000).toFixed(1),
    });
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return plugin;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds and registers the plugin inside `work`, against the units the GHC's own library uses, and
 * builds its merged-output helper (with the GHC's own C toolchain) there too.
 */
async function buildInto(ghc: GhcInstallation, unitId: string, work: string): Promise<void> {
  const deps = await ghcDependencies(ghc);
  const missing = REQUIRED_PACKAGES.filter((p) => !deps.has(p));
  if (missing.length > 0) {
    throw new GhcError(`the ghc package of ${ghc.ghc} lacks ${missing.join(", ")}; cannot build the plugin`);
  }
  const units = [...REQUIRED_PACKAGES, ...OPTIONAL_PACKAGES.filter((p) => deps.has(p))].map((p) =>
    deps.get(p)!
  );

  await buildPackage(ghc, {
    name: "ghcpw-plugin",
    version: "0",
    unitId,
    modules: PLUGIN_SOURCES,
    cSources: PLUGIN_C_SOURCES,
    depends: units,
    ghcFlags: ["-O"],
  }, work);
  const source = `${work}/exec/merged_exec.c`;
  await Deno.mkdir(`${work}/exec`, { recursive: true });
  await Deno.mkdir(`${work}/bin`, { recursive: true });
  await Deno.writeTextFile(source, mergedExecSource);
  await runTool(ghc.ghc, [
    "-no-hs-main",
    "-outputdir",
    `${work}/exec`,
    "-o",
    `${work}/bin/${MERGED_EXEC}`,
    source,
  ], {
    env: { ...Deno.env.toObject(), GHC_ENVIRONMENT: "-" },
  });
}
