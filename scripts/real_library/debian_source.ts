/**
 * Fetching a Debian source package `haskell-<name>` with `apt-get source` (never committed) and installing
 * `libghc-<name>-dev` for its dependencies. Idempotent and cached per Debian suite under
 * `$GHCPW_REAL_LIB_CACHE` (default `/var/cache/ghcpw/real-libs/<suite>`); the first run needs root (apt)
 * and the Debian mirror.
 *
 * @module
 */

import { withFileLock } from "../../lib/address/file_lock.ts";
import { debianSuite, mainDebianSource, readAptSources } from "./apt_sources.ts";
import { progress, RealLibraryError, runQuiet, runShown, runStreamed } from "./process.ts";

/** Where fetched sources are cached for a suite: `$GHCPW_REAL_LIB_CACHE`, else /var/cache/ghcpw/real-libs. */
export function cacheDir(suite: string): string {
  const base = Deno.env.get("GHCPW_REAL_LIB_CACHE") || "/var/cache/ghcpw/real-libs";
  return `${base}/${suite}`;
}

const DEB_SRC_FILE = "/etc/apt/sources.list.d/ghcpw-deb-src.sources";

/**
 * Makes sure apt has a deb-src entry for the running suite (so `apt-get source` works), mirroring the
 * system's own deb entry (same mirror and key). Returns true if it had to add one (apt's lists are then stale).
 */
export async function ensureDebSrc(suite: string): Promise<boolean> {
  const sources = await readAptSources();
  const has = sources.some((s) => s.types.includes("deb-src") && s.suites.includes(suite));
  if (has) return false;
  const main = mainDebianSource(sources);
  const uri = main?.uri ?? "http://deb.debian.org/debian";
  const signedBy = main?.signedBy ?? "";
  progress(`adding a deb-src entry for ${suite} (${uri}) in ${DEB_SRC_FILE}`);
  const stanza = [
    "# Added by ghcpw's scripts/real_library.ts: sources of real libraries for tests and benchmarks.",
    "Types: deb-src",
    `URIs: ${uri}`,
    `Suites: ${suite}`,
    "Components: main",
    ...(signedBy ? [`Signed-By: ${signedBy}`] : []),
  ].join("\n");
  try {
    await Deno.writeTextFile(DEB_SRC_FILE, `${stanza}\n`);
  } catch (e) {
    throw new RealLibraryError(
      `cannot write ${DEB_SRC_FILE} (${e instanceof Error ? e.message : e}); run as root, or add a deb-src ` +
        `entry for ${suite} yourself`,
    );
  }
  return true;
}

/** Whether a Debian package is installed. */
export async function isInstalled(pkg: string): Promise<boolean> {
  const r = await runQuiet("dpkg-query", ["-W", "-f=${Status}", pkg]).catch(() => null);
  return r !== null && r.code === 0 && r.stdout.includes("install ok installed");
}

/** Whether apt knows the source package (its lists include the deb-src index). */
async function knowsSource(sourcePackage: string): Promise<boolean> {
  const r = await runQuiet("apt-cache", ["showsrc", "--only-source", sourcePackage]).catch(() => null);
  return r !== null && r.code === 0 && /^Package:/m.test(r.stdout);
}

/** apt-get options: wait for a concurrent apt rather than fail, and keep the output short. */
const APT_OPTIONS = ["-q", "-o", "DPkg::Lock::Timeout=600"];

/**
 * `apt-get update`. If a Release file is past its Valid-Until date — what a frozen snapshot mirror of sid
 * or testing serves once a week has passed — it says so and retries without that check, because these
 * sources only feed tests and benchmarks; any other failure is an error.
 */
export async function aptUpdate(): Promise<void> {
  const first = await runStreamed("apt-get", [...APT_OPTIONS, "update"]);
  if (first.code === 0) return;
  if (!/Release file for \S+ is expired/.test(first.output)) {
    throw new RealLibraryError(`apt-get update failed with exit code ${first.code}`);
  }
  progress(
    "the mirror's Release file has expired (a frozen snapshot?); retrying with Check-Valid-Until=false",
  );
  await runShown("apt-get", [...APT_OPTIONS, "-o", "Acquire::Check-Valid-Until=false", "update"]);
}

/**
 * Why apt cannot reach the Debian mirror this system installs from (apt's own downloader fetches the
 * suite's InRelease, with apt's configuration), or null if it can: tells a machine without the mirror,
 * where a test may skip, from a failure that must fail.
 */
export async function debianMirrorUnreachable(): Promise<string | null> {
  const main = mainDebianSource(await readAptSources());
  const url = `${(main?.uri ?? "http://deb.debian.org/debian").replace(/\/$/, "")}/dists/${
    main?.suite ?? await debianSuite()
  }/InRelease`;
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-apt-probe-" });
  try {
    const r = await runQuiet("/usr/lib/apt/apt-helper", [
      ...APT_OPTIONS,
      "-o",
      "Acquire::Retries=0",
      "download-file",
      url,
      `${dir}/InRelease`,
    ]).catch((e) => ({ code: -1, stdout: "", stderr: `cannot run apt-helper: ${e.message}` }));
    if (r.code === 0) return null;
    return `apt cannot fetch ${url}: ${(r.stderr.match(/^E: .*$/gm) ?? [r.stderr.trim()]).join("; ")}`;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Installs the packages that are missing (after `apt-get update` if apt does not know one of them). */
export async function ensurePackages(pkgs: string[], updated: { done: boolean }): Promise<void> {
  const missing: string[] = [];
  for (const pkg of pkgs) if (!await isInstalled(pkg)) missing.push(pkg);
  if (!missing.length) return;
  progress(`installing ${missing.join(" ")} (apt)`);
  const install = () =>
    runShown("apt-get", [...APT_OPTIONS, "install", "-y", "--no-install-recommends", ...missing]);
  try {
    await install();
  } catch (e) {
    if (updated.done) throw e;
    // The package lists may be stale or absent (fresh chroots): refresh them once and retry.
    await aptUpdate();
    updated.done = true;
    await install();
  }
}

/** A fetched Debian source package. */
export interface FetchedSource {
  /** The unpacked source tree (Debian's patches applied). */
  dir: string;
  sourcePackage: string;
  debianVersion: string;
}

/**
 * Makes a library's sources and dependencies available: deb-src entry, `libghc-<name>-dev` (which depends
 * on the library's dependencies), dpkg-dev (for `apt-get source`), then `apt-get source haskell-<name>`
 * into the cache unless already there. Holds a lock so concurrent tests and benchmarks fetch once.
 */
export async function fetchLibrarySource(name: string): Promise<FetchedSource> {
  const suite = await debianSuite();
  const cache = cacheDir(suite);
  const sourcePackage = `haskell-${name}`;
  await Deno.mkdir(cache, { recursive: true }).catch((e) => {
    throw new RealLibraryError(`cannot create the cache ${cache}: ${e.message}; set GHCPW_REAL_LIB_CACHE`);
  });
  return await withFileLock(`${cache}/.lock`, async () => {
    const marker = `${cache}/${sourcePackage}.json`;
    const updated = { done: false };
    const devPackage = `libghc-${name}-dev`;
    try {
      const cached = JSON.parse(await Deno.readTextFile(marker)) as FetchedSource;
      await Deno.stat(cached.dir);
      if (await isInstalled(devPackage)) {
        progress(`using cached ${sourcePackage} ${cached.debianVersion} (${cached.dir})`);
        return cached;
      }
      await ensurePackages([devPackage], updated);
      return cached;
    } catch (e) {
      if (e instanceof RealLibraryError) throw e;
      // not cached yet
    }
    progress(`fetching ${sourcePackage} for Debian ${suite} into ${cache} (once; apt may take a minute)`);
    if (await ensureDebSrc(suite) || !await knowsSource(sourcePackage)) {
      await aptUpdate();
      updated.done = true;
      if (!await knowsSource(sourcePackage)) {
        throw new RealLibraryError(
          `Debian ${suite} has no source package ${sourcePackage} (apt-cache showsrc)`,
        );
      }
    }
    await ensurePackages([devPackage, "dpkg-dev"], updated);
    // Unpack into a fresh directory, then publish it with the marker: an interrupted fetch leaves no marker.
    const staging = await Deno.makeTempDir({ dir: cache, prefix: `${sourcePackage}.` });
    let dir = "";
    try {
      // apt-get source downloads as the _apt user where it can: let it write here.
      await Deno.chmod(staging, 0o777);
      await runShown("apt-get", [...APT_OPTIONS, "source", sourcePackage], { cwd: staging });
      for await (const entry of Deno.readDir(staging)) {
        if (entry.isDirectory && entry.name.startsWith(`${sourcePackage}-`)) dir = `${staging}/${entry.name}`;
      }
      if (!dir) {
        throw new RealLibraryError(
          `apt-get source ${sourcePackage} unpacked no ${sourcePackage}-* directory`,
        );
      }
      await Deno.chmod(staging, 0o755);
    } catch (e) {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      throw e;
    }
    const changelog = await Deno.readTextFile(`${dir}/debian/changelog`).catch(() => "");
    const debianVersion = /^\S+ \(([^)]+)\)/.exec(changelog)?.[1] ?? "unknown";
    // A readable, stable name: <cache>/haskell-aeson_2.0.3.0-1/haskell-aeson-2.0.3.0.
    const home = `${cache}/${sourcePackage}_${debianVersion}`;
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.rename(staging, home);
    dir = `${home}/${dir.slice(staging.length + 1)}`;
    const fetched: FetchedSource = { dir, sourcePackage, debianVersion };
    await Deno.writeTextFile(marker, JSON.stringify(fetched, null, 2) + "\n");
    progress(`fetched ${sourcePackage} ${debianVersion} into ${dir}`);
    return fetched;
  });
}
