/**
 * A real Haskell library that no one here wrote, for tests and benchmarks: Debian's source package
 * `haskell-<name>` (fetched with `apt-get source`, never committed) with its dependencies from
 * `libghc-<name>-dev`, plus what it takes to build it module by module with one-shot `ghc -c` the way Cabal
 * would: the GHC flags from the .cabal file's library stanza and the modules in dependency order.
 *
 * Fetching is idempotent and cached per Debian suite under `$GHCPW_REAL_LIB_CACHE` (default
 * `/var/cache/ghcpw/real-libs/<suite>`); the first run needs root (apt) and network access to the Debian
 * mirror. Progress goes to stderr, since apt can take a minute.
 *
 * Run `deno run -A scripts/real_library.ts --help` for the command line.
 *
 * Limits, chosen to keep the .cabal reading small and honest: only the library stanza (and the `common`
 * stanzas it imports) is read; layout-style .cabal files only (no braces); flags take their declared
 * defaults (what Debian builds when debian/rules passes no --flags); `cabal_macros.h` and `Paths_<name>` are
 * not generated (GHC itself defines `MIN_VERSION_<pkg>` for every exposed package), so a library needing them is
 * refused with a message rather than built differently.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { withFileLock } from "../lib/address/file_lock.ts";
import { findExecutable, findGhcPkg } from "../lib/ghc/installation.ts";

// ---------------------------------------------------------------------------------------------------------
// Progress and processes

/** Prints a progress line on stderr (stdout is kept for results). */
export function progress(message: string): void {
  console.error(`real-library: ${message}`);
}

/** A command failed; the message says which and why. */
export class RealLibraryError extends Error {
  override name = "RealLibraryError";
}

/**
 * Runs a command, streaming its stdout and stderr to our stderr (apt's progress), and returns its exit code
 * and everything it printed (to recognise known failures).
 */
export async function runStreamed(
  cmd: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; output: string }> {
  progress(`$ ${cmd} ${args.join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).spawn();
  } catch (e) {
    throw new RealLibraryError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
  }
  const decoder = new TextDecoder();
  let output = "";
  // Both streams go to stderr so that stdout carries only the result.
  const forward = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await Deno.stderr.write(chunk);
    }
  };
  const [status] = await Promise.all([child.status, forward(child.stdout), forward(child.stderr)]);
  return { code: status.code, output };
}

/** Like {@linkcode runStreamed}, and throws if the command fails. */
export async function runShown(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<void> {
  const { code } = await runStreamed(cmd, args, options);
  if (code !== 0) throw new RealLibraryError(`${cmd} ${args.join(" ")} failed with exit code ${code}`);
}

/** Runs a command quietly and returns its exit code and stdout. */
export async function runQuiet(
  cmd: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, cwd: options.cwd, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

// ---------------------------------------------------------------------------------------------------------
// Debian: suite, deb-src entry, packages, source

/** One apt source entry (from one-line or deb822 files). */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** The deb822 `Signed-By` value, or the one-line `[signed-by=...]` option; "" if none. */
  signedBy: string;
}

/** Parses the one-line format (`deb [options] URI SUITE COMPONENTS...`). */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    let signedBy = "";
    const withoutOptions = line.replace(/\[([^\]]*)\]/, (_, opts: string) => {
      signedBy = /signed-by=(\S+)/.exec(opts)?.[1] ?? "";
      return "";
    });
    const [type, uri, suite, ...components] = withoutOptions.split(/\s+/);
    if (!uri || !suite) continue;
    sources.push({ types: [type], uris: [uri], suites: [suite], components, signedBy });
  }
  return sources;
}

/** Parses the deb822 format (`Types:`, `URIs:`, `Suites:` stanzas separated by blank lines). */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(last = m[1].toLowerCase(), m[2].trim());
      else if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    }
    if (fields.get("enabled")?.toLowerCase() === "no") continue;
    const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").length || !words("uris").length) continue;
    sources.push({
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
      signedBy: fields.get("signed-by") ?? "",
    });
  }
  return sources;
}

/** Every apt source entry configured under `root` (default: this system). */
export async function readAptSources(root = ""): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const read = async (path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch {
      return null;
    }
  };
  const main = await read(`${root}/etc/apt/sources.list`);
  if (main !== null) sources.push(...parseOneLineSources(main));
  const dir = `${root}/etc/apt/sources.list.d`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch {
    // no directory: only sources.list
  }
  for (const name of names.sort()) {
    const text = await read(`${dir}/${name}`);
    if (text === null) continue;
    if (name.endsWith(".list")) sources.push(...parseOneLineSources(text));
    else if (name.endsWith(".sources")) sources.push(...parseDeb822Sources(text));
  }
  return sources;
}

/** The Debian archive entry this system installs from: a `deb` source of a plain suite (not -security). */
export function mainDebianSource(
  sources: AptSource[],
): { uri: string; suite: string; signedBy: string } | null {
  for (const source of sources) {
    if (!source.types.includes("deb")) continue;
    const uri = source.uris.find((u) => !/security/.test(u));
    const suite = source.suites.find((s) => !s.includes("-") && !s.includes("/"));
    if (uri && suite && source.components.includes("main")) return { uri, suite, signedBy: source.signedBy };
  }
  return null;
}

/**
 * The running Debian suite. The apt sources are the authority, because sid's /etc/os-release names the
 * next testing release (VERSION_CODENAME=forky) while its packages come from sid; /etc/os-release's
 * VERSION_CODENAME is the fallback, and "sid" when it has none.
 */
export async function debianSuite(root = ""): Promise<string> {
  const main = mainDebianSource(await readAptSources(root));
  if (main) return main.suite;
  try {
    const osRelease = await Deno.readTextFile(`${root}/etc/os-release`);
    const codename = /^VERSION_CODENAME=["']?([^"'\n]*)/m.exec(osRelease)?.[1];
    if (codename) return codename;
  } catch {
    // no os-release: treat as sid
  }
  return "sid";
}

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

// ---------------------------------------------------------------------------------------------------------
// The .cabal file

/** A field (`name: value`) or a section (`library`, `flag x`, `if cond` with its `else`) of a .cabal file. */
export type CabalItem =
  | { kind: "field"; name: string; value: string }
  | { kind: "section"; header: string; args: string; items: CabalItem[] }
  | { kind: "if"; condition: string; then: CabalItem[]; else: CabalItem[] };

interface Line {
  indent: number;
  text: string;
}

/** Parses a layout-style .cabal file into items (comments dropped, continuation lines joined). */
export function parseCabal(text: string): CabalItem[] {
  const lines: Line[] = [];
  for (const raw of text.replace(/\t/g, "        ").split("\n")) {
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith("--")) continue;
    lines.push({ indent: raw.length - raw.trimStart().length, text: trimmed });
  }
  let i = 0;
  // Parses the items indented deeper than `parent`.
  const block = (parent: number): CabalItem[] => {
    const items: CabalItem[] = [];
    while (i < lines.length && lines[i].indent > parent) {
      const { indent, text } = lines[i++];
      const field = /^([A-Za-z0-9_-]+)\s*:(.*)$/.exec(text);
      if (field) {
        const parts = [field[2].trim()];
        while (i < lines.length && lines[i].indent > indent) parts.push(lines[i++].text);
        items.push({ kind: "field", name: field[1].toLowerCase(), value: parts.join("\n").trim() });
        continue;
      }
      const [, header, args] = /^(\S+)\s*(.*)$/.exec(text)!;
      const keyword = header.toLowerCase();
      if (keyword === "if") {
        items.push(conditional(args, indent));
      } else if (keyword === "else" || keyword === "elif") {
        throw new RealLibraryError(`.cabal: '${text}' without a preceding if`);
      } else {
        items.push({ kind: "section", header: keyword, args: args.trim(), items: block(indent) });
      }
    }
    return items;
  };
  // An `if` with its body and any `elif`/`else` at the same indentation.
  const conditional = (condition: string, indent: number): CabalItem => {
    const item = { kind: "if" as const, condition, then: block(indent), else: [] as CabalItem[] };
    if (i < lines.length && lines[i].indent === indent) {
      const next = /^(else|elif)\b\s*(.*)$/i.exec(lines[i].text);
      if (next) {
        i++;
        item.else = next[1].toLowerCase() === "elif" ? [conditional(next[2], indent)] : block(indent);
      }
    }
    return item;
  };
  return block(-1);
}

/** What `impl(...)`, `os(...)`, `arch(...)` and `flag(...)` evaluate against. */
export interface CabalEnvironment {
  ghcVersion: string;
  os: string;
  arch: string;
  flags: Map<string, boolean>;
}

/** Compares dotted versions numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let k = 0; k < Math.max(pa.length, pb.length); k++) {
    const d = (pa[k] ?? 0) - (pb[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether a version satisfies a Cabal version range (`>= 8.6 && < 9.4 || == 9.6.*`, `^>= 9.0`). */
export function inVersionRange(version: string, range: string): boolean {
  if (!range.trim() || range.trim() === "-any") return true;
  return range.split("||").some((alt) =>
    alt.split("&&").every((part) => {
      const m = /^\s*\(?\s*(>=|<=|==|\^>=|>|<)\s*([0-9.*]+)\s*\)?\s*$/.exec(part);
      if (!m) throw new RealLibraryError(`.cabal: unsupported version range '${range}'`);
      const [, op, bound] = m;
      if (bound.endsWith(".*")) {
        const prefix = bound.slice(0, -2);
        return version === prefix || version.startsWith(`${prefix}.`);
      }
      const c = compareVersions(version, bound);
      switch (op) {
        case ">=":
          return c >= 0;
        case "<=":
          return c <= 0;
        case ">":
          return c > 0;
        case "<":
          return c < 0;
        case "==":
          return c === 0;
        default: {
          // ^>= x.y.z means >= x.y.z and < x.(y+1)
          const [major1, major2 = 0] = bound.split(".").map(Number);
          return c >= 0 && compareVersions(version, `${major1}.${major2 + 1}`) < 0;
        }
      }
    })
  );
}

/** Evaluates a .cabal condition (`!flag(x) && (impl(ghc >= 9.4) || os(linux))`). */
export function evalCondition(condition: string, env: CabalEnvironment): boolean {
  const tokens = condition.match(/\s*(\|\||&&|!|\(|\)|[A-Za-z][A-Za-z0-9_-]*\s*\([^()]*\)|[A-Za-z]+)/g)
    ?.map((t) => t.trim()) ?? [];
  if (tokens.join("").replace(/\s/g, "") !== condition.replace(/\s/g, "")) {
    throw new RealLibraryError(`.cabal: cannot parse condition '${condition}'`);
  }
  let k = 0;
  const atom = (): boolean => {
    const t = tokens[k++];
    if (t === "!") return !atom();
    if (t === "(") {
      const v = or();
      if (tokens[k++] !== ")") throw new RealLibraryError(`.cabal: unbalanced '${condition}'`);
      return v;
    }
    const lower = t?.toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
    const call = /^([A-Za-z]+)\s*\(\s*(.*?)\s*\)$/.exec(t ?? "");
    if (!call) throw new RealLibraryError(`.cabal: cannot parse condition '${condition}'`);
    const [, fn, arg] = call;
    switch (fn.toLowerCase()) {
      case "flag": {
        const value = env.flags.get(arg.toLowerCase());
        if (value === undefined) throw new RealLibraryError(`.cabal: unknown flag '${arg}'`);
        return value;
      }
      case "impl": {
        const [, compiler, range] = /^([A-Za-z-]+)\s*(.*)$/.exec(arg)!;
        return compiler.toLowerCase() === "ghc" && inVersionRange(env.ghcVersion, range);
      }
      case "os":
        return arg.toLowerCase() === env.os;
      case "arch":
        return arg.toLowerCase() === env.arch;
      default:
        throw new RealLibraryError(`.cabal: unknown condition '${t}'`);
    }
  };
  const and = (): boolean => {
    let v = atom();
    while (tokens[k] === "&&") {
      k++;
      const w = atom();
      v = v && w;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (tokens[k] === "||") {
      k++;
      const w = and();
      v = v || w;
    }
    return v;
  };
  const value = or();
  if (k !== tokens.length) throw new RealLibraryError(`.cabal: trailing tokens in '${condition}'`);
  return value;
}

/** The default of every flag declared in the file (`default:` absent means True, as in Cabal). */
export function flagDefaults(items: CabalItem[]): Map<string, boolean> {
  const flags = new Map<string, boolean>();
  for (const item of items) {
    if (item.kind !== "section" || item.header !== "flag") continue;
    const def = item.items.find((f) => f.kind === "field" && f.name === "default");
    flags.set(item.args.toLowerCase(), def?.kind === "field" ? def.value.toLowerCase() !== "false" : true);
  }
  return flags;
}

/**
 * The library stanza's fields with conditionals resolved and `import`ed common stanzas inlined: each field
 * name maps to its values in file order (list fields accumulate across branches, as Cabal merges them).
 */
export function libraryFields(items: CabalItem[], env: CabalEnvironment): Map<string, string[]> {
  const library = items.find((item) => item.kind === "section" && item.header === "library" && !item.args);
  if (library?.kind !== "section") throw new RealLibraryError(".cabal: no (main) library stanza");
  const commons = new Map<string, CabalItem[]>();
  for (const item of items) {
    if (item.kind === "section" && item.header === "common") commons.set(item.args, item.items);
  }
  const fields = new Map<string, string[]>();
  const visit = (list: CabalItem[]) => {
    for (const item of list) {
      if (item.kind === "if") visit(evalCondition(item.condition, env) ? item.then : item.else);
      else if (item.kind === "field" && item.name === "import") {
        for (const name of splitList(item.value)) {
          const common = commons.get(name);
          if (!common) throw new RealLibraryError(`.cabal: import of unknown common stanza '${name}'`);
          visit(common);
        }
      } else if (item.kind === "field") fields.set(item.name, [...fields.get(item.name) ?? [], item.value]);
    }
  };
  visit(library.items);
  return fields;
}

/** Splits a list field on commas and whitespace. */
export function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

/** The package names in `build-depends` values (version ranges dropped; `pkg:{a,b}` sublibraries unsupported). */
export function dependencyNames(values: string[]): string[] {
  const names: string[] = [];
  for (const entry of values.flatMap((v) => v.split(","))) {
    const name = /^\s*([A-Za-z0-9-]+)/.exec(entry)?.[1];
    if (!name) continue;
    if (/^\s*[A-Za-z0-9-]+\s*:/.test(entry)) {
      throw new RealLibraryError(`.cabal: sublibrary dependency '${entry.trim()}' is not supported`);
    }
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** A library's build description: what Cabal would hand to GHC. */
export interface LibraryInfo {
  name: string;
  version: string;
  exposedModules: string[];
  otherModules: string[];
  sourceDirs: string[];
  language: string | null;
  extensions: string[];
  cppOptions: string[];
  ccOptions: string[];
  includeDirs: string[];
  cSources: string[];
  ghcOptions: string[];
  dependencies: string[];
}

/** Reads the library stanza of a .cabal file for the given environment. */
export function libraryInfo(
  cabalText: string,
  env: Omit<CabalEnvironment, "flags">,
  flags = new Map<string, boolean>(),
): LibraryInfo {
  const items = parseCabal(cabalText);
  const top = (name: string) => {
    const f = items.find((item) => item.kind === "field" && item.name === name);
    return f?.kind === "field" ? f.value : "";
  };
  const allFlags = flagDefaults(items);
  for (const [flag, value] of flags) allFlags.set(flag.toLowerCase(), value);
  const fields = libraryFields(items, { ...env, flags: allFlags });
  const list = (name: string) => (fields.get(name) ?? []).flatMap(splitList);
  const name = top("name");
  return {
    name,
    version: top("version"),
    exposedModules: list("exposed-modules"),
    otherModules: list("other-modules"),
    sourceDirs: list("hs-source-dirs").length ? list("hs-source-dirs") : ["."],
    language: list("default-language").at(-1) ?? null,
    extensions: [...list("default-extensions"), ...list("extensions")],
    cppOptions: list("cpp-options"),
    ccOptions: list("cc-options"),
    includeDirs: list("include-dirs"),
    cSources: list("c-sources"),
    // ghc-options is a shell-like token list; quoting is rare enough to ignore.
    ghcOptions: list("ghc-options"),
    dependencies: dependencyNames(fields.get("build-depends") ?? []).filter((d) => d !== name),
  };
}

/** The unit id the library is compiled as (distinct from the Debian-installed copy's hashed id). */
export function unitIdOf(info: LibraryInfo): string {
  return `${info.name}-${info.version}-inplace`;
}

/**
 * The GHC flags that compile the library's Haskell modules as Cabal would (paths relative to the source
 * directory): only its declared dependencies visible, its source directories, language and extensions,
 * CPP options, include directories, ghc-options and its unit id. Output directories are separate
 * ({@linkcode outputFlags}) because `ghc -M` must not have them.
 *
 * Dependencies are exposed by unit id (`-package-id`, as Cabal does), not by name: `-package vector` is
 * ambiguous when a package also installs a public sublibrary of the same package name (Debian sid's
 * vector ships `vector:benchmarks-O2`), and GHC 9.10 then exposes the sublibrary instead of the library.
 */
export function ghcFlags(info: LibraryInfo, dependencyIds: string[]): string[] {
  return [
    "-no-user-package-db",
    "-hide-all-packages",
    ...dependencyIds.flatMap((id) => ["-package-id", id]),
    "-this-unit-id",
    unitIdOf(info),
    "-i",
    ...info.sourceDirs.map((d) => `-i${d}`),
    ...info.includeDirs.map((d) => `-I${d}`),
    ...(info.language ? [`-X${info.language}`] : []),
    ...info.extensions.map((x) => `-X${x}`),
    ...info.cppOptions.map((o) => `-optP${o}`),
    ...info.ghcOptions,
  ];
}

/**
 * Puts every output under `buildDir` and adds it to the import path, as Cabal does: one-shot compiles find
 * home interfaces on the import path (GHC 9.0 does not search -hidir for them).
 */
export function outputFlags(buildDir: string): string[] {
  return [`-i${buildDir}`, "-odir", buildDir, "-hidir", buildDir, "-stubdir", buildDir];
}

/** The flags for compiling the library's C sources with `ghc -c` (as Cabal does: include dirs, cc-options). */
export function cFlags(info: LibraryInfo, buildDir: string): string[] {
  return [
    "-no-user-package-db",
    ...info.includeDirs.map((d) => `-I${d}`),
    ...info.ccOptions.map((o) => `-optc${o}`),
    ...info.cppOptions.map((o) => `-optc${o}`),
    ...outputFlags(buildDir),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Module order

/** One one-shot compile: a module's source (or a C source, with `module` null) and the home modules it needs. */
export interface BuildStep {
  module: string | null;
  /** Source path relative to the library's directory. */
  file: string;
  /** Home modules (or `X[boot]` for hs-boot files) this step imports. */
  imports: string[];
}

/** Finds a module's source file (`.hs` or `.lhs`; no preprocessors such as .hsc) in the source directories. */
export async function findModuleSource(dir: string, sourceDirs: string[], module: string): Promise<string> {
  for (const srcDir of sourceDirs) {
    for (const ext of [".hs", ".lhs"]) {
      const rel = `${srcDir === "." ? "" : `${srcDir}/`}${module.replaceAll(".", "/")}${ext}`;
      try {
        await Deno.stat(`${dir}/${rel}`);
        return rel;
      } catch {
        // try the next
      }
    }
  }
  throw new RealLibraryError(
    `no source for module ${module} in ${sourceDirs.join(", ")} (generated modules such as .hsc, Paths_* ` +
      `and autogen modules are not supported)`,
  );
}

/**
 * Parses the makefile `ghc -M` writes into source file → home source files it depends on. Rules are
 * `X.o : X.hs` (the object's source), `X.o : Y.hi` (a home import) and `X.o-boot`/`Y.hi-boot` for boot
 * files; package interfaces are not listed without -include-pkg-deps.
 */
export function parseDepMakefile(text: string): Map<string, string[]> {
  const objectSource = new Map<string, string>();
  const edges: Array<[string, string]> = [];
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^(\S+)\s*:\s*(.+)$/.exec(line);
    if (!m) continue;
    const [, target, deps] = m;
    for (const dep of deps.split(/\s+/)) {
      if (/\.(hs|lhs|hs-boot|lhs-boot)$/.test(dep)) objectSource.set(stem(target), dep);
      else edges.push([stem(target), stem(dep)]);
    }
  }
  const graph = new Map<string, string[]>();
  for (const source of objectSource.values()) graph.set(source, []);
  for (const [from, to] of edges) {
    const a = objectSource.get(from);
    const b = objectSource.get(to);
    if (!a || !b) continue; // not a home module
    const list = graph.get(a)!;
    if (!list.includes(b)) list.push(b);
  }
  return graph;
}

/** `src/A/B.o` and `src/A/B.hi` → `src/A/B`; `X.o-boot`/`X.hi-boot` → `X[boot]`. */
function stem(path: string): string {
  const m = /^(.*)\.(o|hi|dyn_o|dyn_hi)(-boot)?$/.exec(path);
  return m ? `${m[1]}${m[3] ? "[boot]" : ""}` : path;
}

/** Orders a dependency graph so every node comes after what it depends on; ties broken by name. */
export function topologicalOrder(graph: Map<string, string[]>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "visiting") {
      throw new RealLibraryError(`import cycle: ${[...path, node].join(" -> ")}`);
    }
    state.set(node, "visiting");
    for (const dep of [...graph.get(node) ?? []].sort()) visit(dep, [...path, node]);
    state.set(node, "done");
    order.push(node);
  };
  for (const node of [...graph.keys()].sort()) visit(node, []);
  return order;
}

/** The module a source path holds, given the source directories (`src/A/B.hs` → `A.B`). */
function moduleOfSource(file: string, sourceDirs: string[]): string {
  for (const srcDir of sourceDirs) {
    const prefix = srcDir === "." ? "" : `${srcDir}/`;
    if (file.startsWith(prefix)) {
      return file.slice(prefix.length).replace(/\.(l?hs)(-boot)?$/, "").replaceAll("/", ".");
    }
  }
  return file;
}

/**
 * The one-shot build steps of the library's Haskell modules in dependency order, computed with `ghc -M`
 * (so CPP, conditional imports and hs-boot files are resolved exactly as GHC sees them).
 */
export async function moduleSteps(
  ghc: string,
  dir: string,
  info: LibraryInfo,
  dependencyIds: string[],
): Promise<BuildStep[]> {
  const modules = [...info.exposedModules, ...info.otherModules];
  const sources = await Promise.all(modules.map((m) => findModuleSource(dir, info.sourceDirs, m)));
  const depFile = await Deno.makeTempFile({ prefix: "ghcpw-real-lib-", suffix: ".mk" });
  try {
    // No output directories: then every -M target sits beside its source.
    const r = await runQuiet(ghc, [
      "-M",
      "-dep-makefile",
      depFile,
      "-dep-suffix",
      "",
      ...ghcFlags(info, dependencyIds),
      ...sources,
    ], {
      cwd: dir,
    });
    if (r.code !== 0) throw new RealLibraryError(`ghc -M failed (exit ${r.code}):\n${r.stderr}`);
    const graph = parseDepMakefile(await Deno.readTextFile(depFile));
    const name = (file: string) =>
      `${moduleOfSource(file, info.sourceDirs)}${/-boot$/.test(file) ? "[boot]" : ""}`;
    return topologicalOrder(graph).map((file) => ({
      module: name(file),
      file,
      imports: graph.get(file)!.map(name),
    }));
  } finally {
    await Deno.remove(depFile).catch(() => {});
  }
}

/** Refuses a library whose sources need Cabal-generated macros that this script does not provide. */
async function checkNoCabalMacros(dir: string, files: string[]): Promise<void> {
  for (const file of files) {
    const text = await Deno.readTextFile(`${dir}/${file}`);
    const m =
      /\b(CURRENT_PACKAGE_(?:KEY|VERSION)|CURRENT_COMPONENT_ID|VERSION_[a-z][a-z0-9_]*|MIN_TOOL_VERSION_[a-z0-9_]+)\b/
        .exec(text);
    if (m) {
      throw new RealLibraryError(
        `${file} uses ${m[1]}, a cabal_macros.h macro this script does not generate`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Everything together

/** A real library ready to be built module by module. */
export interface RealLibrary extends LibraryInfo {
  /** The unpacked sources; every path in `flags` and `steps` is relative to it. */
  dir: string;
  sourcePackage: string;
  debianVersion: string;
  unitId: string;
  /** The installed unit each of `dependencies` resolved to. */
  dependencyIds: string[];
  ghcVersion: string;
  /** Where `flags` put .o/.hi files, relative to `dir`. */
  buildDir: string;
  /** Flags for every Haskell module (`ghc -c FLAGS FILE`); add -O level, -dynamic-too and the like. */
  flags: string[];
  /** Flags for the C sources (`ghc -c CFLAGS FILE.c`). */
  cSourceFlags: string[];
  /** C sources first, then Haskell modules in dependency order. */
  steps: BuildStep[];
}

/** Options of {@linkcode prepareRealLibrary}. */
export interface PrepareOptions {
  /** The ghc that will build it (its version decides `impl(ghc ...)` conditions). Default: ghc on PATH. */
  ghc?: string;
  /** Output directory relative to the sources, default `dist/build` (as Cabal). */
  buildDir?: string;
  /** Flag assignments overriding the .cabal file's defaults. */
  flags?: Map<string, boolean>;
}

/**
 * Fetches (once) Debian's `haskell-<name>` with its dependencies and returns how to build its library
 * module by module: flags, C sources and Haskell modules in dependency order.
 */
export async function prepareRealLibrary(name: string, options: PrepareOptions = {}): Promise<RealLibrary> {
  const ghc = options.ghc ?? "ghc";
  const buildDir = options.buildDir ?? "dist/build";
  const fetched = await fetchLibrarySource(name);
  const cabalFiles: string[] = [];
  for await (const entry of Deno.readDir(fetched.dir)) {
    if (entry.name.endsWith(".cabal")) cabalFiles.push(entry.name);
  }
  if (cabalFiles.length !== 1) {
    throw new RealLibraryError(`expected one .cabal file in ${fetched.dir}, found ${cabalFiles.length}`);
  }
  const version = await runQuiet(ghc, ["--numeric-version"]);
  if (version.code !== 0) throw new RealLibraryError(`${ghc} --numeric-version failed: ${version.stderr}`);
  const ghcVersion = version.stdout.trim();
  const info = libraryInfo(
    await Deno.readTextFile(`${fetched.dir}/${cabalFiles[0]}`),
    { ghcVersion, os: "linux", arch: Deno.build.arch === "aarch64" ? "aarch64" : "x86_64" },
    options.flags,
  );
  const dependencyIds = await resolveDependencies(ghc, ghcVersion, info.dependencies);
  progress(`${info.name}-${info.version}: working out the module order (ghc -M)`);
  const hsSteps = await moduleSteps(ghc, fetched.dir, info, dependencyIds);
  await checkNoCabalMacros(fetched.dir, hsSteps.map((s) => s.file));
  const cSteps: BuildStep[] = info.cSources.map((file) => ({ module: null, file, imports: [] }));
  return {
    ...info,
    dir: fetched.dir,
    sourcePackage: fetched.sourcePackage,
    debianVersion: fetched.debianVersion,
    unitId: unitIdOf(info),
    ghcVersion,
    buildDir,
    dependencyIds,
    flags: [...ghcFlags(info, dependencyIds), ...outputFlags(buildDir)],
    cSourceFlags: cFlags(info, buildDir),
    steps: [...cSteps, ...hsSteps],
  };
}

/** One installed library unit: its (main-library) package name, version and unit id. */
export interface InstalledUnit {
  name: string;
  version: string;
  id: string;
}

/**
 * Parses `ghc-pkg dump`: one unit per `---`-separated stanza. Sublibraries have a z-encoded `name`
 * (`z-vector-z-benchmarks-O2`), so matching on `name` finds main libraries only.
 */
export function parsePackageDump(text: string): InstalledUnit[] {
  return text.split(/^---$/m).flatMap((stanza) => {
    const field = (key: string) => new RegExp(`^${key}:\\s*(\\S+)`, "m").exec(stanza)?.[1];
    const [name, version, id] = [field("name"), field("version"), field("id")];
    return name && version && id ? [{ name, version, id }] : [];
  });
}

/**
 * Resolves each dependency name to the unit id of its newest installed main library in GHC's global
 * package database; fails clearly (naming them) when some are missing, rather than deep in ghc -M.
 */
async function resolveDependencies(
  ghc: string,
  ghcVersion: string,
  dependencies: string[],
): Promise<string[]> {
  const ghcPath = findExecutable(ghc);
  if (ghcPath === null) throw new RealLibraryError(`cannot find ${ghc}`);
  const ghcPkg = findGhcPkg(ghcPath, ghcVersion);
  const dump = await runQuiet(ghcPkg, ["dump", "--global"]);
  if (dump.code !== 0) throw new RealLibraryError(`${ghcPkg} dump --global failed: ${dump.stderr}`);
  const units = parsePackageDump(dump.stdout);
  const missing: string[] = [];
  const ids = dependencies.map((name) => {
    const candidates = units.filter((u) => u.name === name).sort((a, b) =>
      compareVersions(b.version, a.version)
    );
    if (!candidates.length) missing.push(name);
    return candidates[0]?.id ?? "";
  });
  if (missing.length) {
    throw new RealLibraryError(
      `dependencies missing from GHC's global package database: ${missing.join(", ")}`,
    );
  }
  return ids;
}

/** The home modules that (transitively) import `module`, in build order; `module` itself first. */
export function dependentsOf(steps: BuildStep[], module: string): BuildStep[] {
  const affected = new Set([module]);
  const out: BuildStep[] = [];
  for (const step of steps) {
    if (step.module === module || step.imports.some((m) => affected.has(m))) {
      if (step.module) affected.add(step.module);
      out.push(step);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Command line

export const HELP = `real_library.ts: fetch a real Haskell library from Debian and print how to build it

Usage: deno run -A scripts/real_library.ts [options] NAME

Fetches (once, cached) Debian's source package haskell-NAME with \`apt-get source\` and installs
libghc-NAME-dev for its dependencies (needs root the first time), then prints the library's module
count, the one-shot build order and the ghc flags that build it like Cabal.

Options:
  --ghc PATH         the ghc that will build it (default: $GHCPW_TEST_GHC or ghc)
  --build-dir DIR    output directory relative to the sources (default: dist/build)
  --flag NAME=BOOL   override a .cabal flag's default (repeatable)
  --json             print everything as JSON instead
  -h, --help         show this help

Environment:
  GHCPW_REAL_LIB_CACHE   cache directory (default /var/cache/ghcpw/real-libs); sources go to CACHE/SUITE/

Example: deno run -A scripts/real_library.ts aeson`;

/** The CLI: prepares the named library and prints a summary (or JSON). */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ghc: { type: "string" },
        "build-dir": { type: "string" },
        flag: { type: "string", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    console.error(HELP);
    return 2;
  }
  const flags = new Map<string, boolean>();
  for (const assignment of parsed.values.flag ?? []) {
    const m = /^([^=]+)=(true|false)$/i.exec(assignment);
    if (!m) {
      console.error(`--flag wants NAME=true or NAME=false, not '${assignment}'`);
      return 2;
    }
    flags.set(m[1], m[2].toLowerCase() === "true");
  }
  try {
    const lib = await prepareRealLibrary(parsed.positionals[0], {
      ghc: parsed.values.ghc ?? (Deno.env.get("GHCPW_TEST_GHC") || "ghc"),
      buildDir: parsed.values["build-dir"],
      flags,
    });
    if (parsed.values.json) {
      console.log(JSON.stringify(lib, null, 2));
      return 0;
    }
    const modules = lib.steps.filter((s) => s.module !== null);
    console.log(
      `${lib.name}-${lib.version} (Debian ${lib.sourcePackage} ${lib.debianVersion}), GHC ${lib.ghcVersion}`,
    );
    console.log(`sources: ${lib.dir}`);
    console.log(`modules: ${modules.length}; C sources: ${lib.cSources.length}`);
    console.log(`flags: ${lib.flags.join(" ")}`);
    if (lib.cSources.length) console.log(`C flags: ${lib.cSourceFlags.join(" ")}`);
    console.log("build order:");
    for (const step of lib.steps) console.log(`  ${step.file}`);
    return 0;
  } catch (e) {
    if (e instanceof RealLibraryError) {
      console.error(`real-library: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
