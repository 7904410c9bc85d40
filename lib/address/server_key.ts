/**
 * Which server a client may use. A server serves one GHC with one set of result-changing settings, so
 * its socket is named by a key made from exactly those: the GHC's resolved path, version and libdir, the
 * server's `--package-db` list, and whether its workers write byte-identical objects (`--share` without
 * `names`, lib/share.ts). A client computes the same key, finds the socket by name, and sends
 * the key in its greeting, so it can never get results from a server for another GHC — even through an
 * explicit `--socket`. The ghcpw version is deliberately not part of the key: servers of two ghcpw
 * versions for one GHC meet on the same socket and settle it in the handshake (lib/client/client.ts).
 *
 * The client runs once per module, so asking ghc for its version and libdir every time (two runs of
 * ghc, ~70 ms) would cost more than ghcpw saves on small modules. The answers are cached in the runtime
 * directory, keyed by the ghc executable's real path, size and modification time, so a reinstalled or
 * upgraded GHC is asked again.
 *
 * @module
 */

import { findGhc, GhcError, realExecutablePath, runTool } from "../ghc/installation.ts";

/** What identifies a GHC installation for ghcpw. */
export interface GhcIdentity {
  /** The ghc executable with symbolic links resolved. */
  realPath: string;
  version: string;
  libdir: string;
}

/** Settings of a server that change what a compile produces (and so must match between client and server). */
export interface KeySettings {
  /** The server's `--package-db` options, in order, as given. */
  packageDbs: readonly string[];
  /** Whether workers keep no name cache, and so write `.o` files byte-identical to cold ghc's. */
  deterministicObjects?: boolean;
}

const CACHE_SUBDIR = "ghc-info";

/**
 * The identity of the ghc named `ghc` (a name on PATH or a path). Answers from `cacheDir` (the runtime
 * directory) when the executable is unchanged; otherwise asks ghc and records the answer there.
 */
export async function ghcIdentity(ghc: string, cacheDir: string | null): Promise<GhcIdentity> {
  const found = findGhc(ghc);
  // A found path has a slash, so this resolves symlinks without walking PATH again.
  const realPath = realExecutablePath(found);
  const cacheFile = cacheDir === null ? null : await cacheFileFor(cacheDir, realPath);
  if (cacheFile !== null) {
    try {
      const cached = JSON.parse(Deno.readTextFileSync(cacheFile));
      if (
        cached.realPath === realPath && typeof cached.version === "string" &&
        typeof cached.libdir === "string"
      ) {
        return { realPath, version: cached.version, libdir: cached.libdir };
      }
    } catch {
      // not cached yet (or unreadable): ask ghc
    }
  }
  const [version, libdir] = (await Promise.all([
    runTool(realPath, ["--numeric-version"]),
    runTool(realPath, ["--print-libdir"]),
  ])).map((s) => s.trim());
  const identity = { realPath, version, libdir };
  if (cacheDir !== null) await rememberGhcIdentity(cacheDir, identity);
  return identity;
}

/**
 * Records an identity learnt elsewhere (the server inspects its GHC anyway), so that the first client
 * after a server start does not have to ask ghc. Best effort: a failure only costs a later ghc run.
 */
export async function rememberGhcIdentity(cacheDir: string, identity: GhcIdentity): Promise<void> {
  const cacheFile = await cacheFileFor(cacheDir, identity.realPath);
  if (cacheFile === null) return;
  try {
    await Deno.mkdir(`${cacheDir}/${CACHE_SUBDIR}`, { recursive: true, mode: 0o700 });
    // Written whole under a private name and renamed: readers never see half a file.
    const temporary = `${cacheFile}.${crypto.randomUUID()}`;
    await Deno.writeTextFile(temporary, JSON.stringify(identity), { mode: 0o600 });
    await Deno.rename(temporary, cacheFile);
  } catch {
    // best effort
  }
}

async function cacheFileFor(cacheDir: string, realPath: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(realPath);
  } catch {
    return null;
  }
  const stamp = `${realPath}\0${info.size}\0${info.mtime?.getTime() ?? 0}`;
  return `${cacheDir}/${CACHE_SUBDIR}/${(await sha256Hex(stamp)).slice(0, 24)}.json`;
}

/** The key of a server for a GHC and settings: 16 hex digits of a SHA-256 over all of them. */
export async function serverKey(identity: GhcIdentity, settings: KeySettings): Promise<string> {
  const material = JSON.stringify([
    identity.realPath,
    identity.version,
    identity.libdir,
    settings.packageDbs,
    // Only when set, so that the default setting keeps the key it always had.
    ...settings.deterministicObjects ? ["deterministic-objects"] : [],
  ]);
  return (await sha256Hex(material)).slice(0, 16);
}

/** The default socket of the server with `key`, in the runtime directory `dir`. */
export function keyedSocketPath(dir: string, identity: GhcIdentity, key: string): string {
  return `${dir}/ghc-${identity.version}-${key}.sock`;
}

/**
 * The socket a client uses for a server of its own ghcpw version when another version's busy server
 * holds `socket`: the same name with the version added.
 */
export function versionedSocketPath(socket: string, version: string): string {
  const base = socket.endsWith(".sock") ? socket.slice(0, -".sock".length) : socket;
  return `${base}.v${version}.sock`;
}

/** Compares two dotted version numbers; negative if `a` is older than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10));
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isNaN(pa[i] ?? 0) ? 0 : pa[i] ?? 0;
    const y = Number.isNaN(pb[i] ?? 0) ? 0 : pb[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export { GhcError };
