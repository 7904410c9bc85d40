/**
 * Getting a {@linkcode Compiler} ready for a GHC, as every long-lived ghcpw process does (the socket
 * server, the Bazel worker): inspect the GHC, build its plugin if needed, start the pool of workers.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { resolve } from "node:path";
import type { Compiler } from "./compile.ts";
import { type GhcInstallation, inspectGhc } from "../ghc/installation.ts";
import { type BuiltPlugin, ensurePlugin, workerArgs } from "../plugin/build.ts";
import { Pool, type RecycleLimits } from "../pool/pool.ts";
import { removeStaleRequestDirs } from "../pool/request_dir.ts";
import { cacheDir } from "../address/paths.ts";
import { IncrementalBuilds } from "../incremental/build.ts";
import { DEFAULT_SHARE, formatShare, type Share } from "../share.ts";
import { Store } from "../incremental/store.ts";

const log = getLogger(["ghcpw", "compiler"]);

/** A GHC that ghcpw can run workers for. */
export interface PreparedGhc {
  installation: GhcInstallation;
  plugin: BuiltPlugin;
}

/** Inspects a GHC and builds ghcpw's plugin for it (on first use only; cached per user). */
export async function prepareGhc(ghc: string, ghcPkg?: string): Promise<PreparedGhc> {
  const installation = await inspectGhc(ghc, ghcPkg);
  return { installation, plugin: await ensurePlugin(installation) };
}

/** What every worker of a compiler is started with. */
export interface WorkerSettings {
  /** Every invocation gets `-package-db` for each ahead of its own flags. */
  packageDbs?: readonly string[];
  /** What workers keep between requests (lib/share.ts); default: the default setting. */
  share?: Share;
}

/**
 * Starts `jobs` workers for a prepared GHC and returns the compiler serving through them, with the
 * given package databases and share setting. `limits` says when
 * workers are replaced (defaults in lib/pool/pool.ts); `incremental` how `--make` builds keep their
 * outputs in the per-user cache (null: they do not).
 */
export async function startCompiler(
  prepared: PreparedGhc,
  jobs: number,
  { packageDbs = [], share = DEFAULT_SHARE }: WorkerSettings = {},
  limits: RecycleLimits = {},
  incremental: { byDefault: boolean; cacheBytes: number } | null = null,
): Promise<Compiler> {
  // Absolute, so that they mean the same for every invocation's working directory, and so that workers
  // recognise them in GHC's list of databases: these are the databases whose interfaces workers may keep.
  const dbs = packageDbs.map((db) => resolve(db));
  const pool = new Pool(
    {
      ghc: prepared.installation.ghc,
      args: [
        ...workerArgs(prepared.plugin),
        ...dbs.flatMap((db) => ["-ffrontend-opt", `immutable-db=${db}`]),
        "-ffrontend-opt",
        `share=${formatShare(share)}`,
      ],
      cwd: "/",
    },
    { size: jobs, ...limits },
  );
  // A process that was killed never removed its requests' directories; the next one to start does.
  const [, stale] = await Promise.all([pool.start(), removeStaleRequestDirs()]);
  if (stale.length > 0) {
    log.info("Removed {count} request directories left by ghcpw processes that are gone", {
      count: stale.length,
    });
  }
  return {
    ghc: prepared.installation.ghc,
    mergedExec: prepared.plugin.mergedExec,
    pool,
    stats: { worker: 0, direct: 0, deferred: 0, timesMs: {} },
    packageDbs: dbs,
    incremental: incremental === null ? undefined : new IncrementalBuilds(
      new Store(`${cacheDir()}/incremental`, incremental.cacheBytes),
      { ...prepared.installation, share: formatShare(share) },
      incremental.byDefault,
    ),
  };
}
