/**
 * Reading a .cabal file the way Cabal would for a library build: the library stanza (and the `common`
 * stanzas it imports) with its conditionals resolved for one GHC, OS, architecture and flag assignment.
 *
 * Limits, chosen to keep it small and honest: layout-style files only (no braces); only the main library
 * stanza; anything it cannot read is an error rather than a guess.
 *
 * @module
 */

import { RealLibraryError } from "./process.ts";

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
