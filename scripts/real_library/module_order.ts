/**
 * The order in which a library's modules can be compiled one-shot: the home-module graph `ghc -M` writes,
 * ordered so every module comes after what it imports, and the modules an edit forces to rebuild.
 * Pure: the caller runs ghc.
 *
 * @module
 */

import { RealLibraryError } from "./process.ts";

/** One one-shot compile: a module's source (or a C source, with `module` null) and the home modules it needs. */
export interface BuildStep {
  module: string | null;
  /** Source path relative to the library's directory. */
  file: string;
  /** Home modules (or `X[boot]` for hs-boot files) this step imports. */
  imports: string[];
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

/** Ascending by name: the tie-break of the order every build here uses by default. */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders a dependency graph so every node comes after what it depends on. Ties are broken by `compare`
 * (default {@linkcode byName}), so another comparison gives another valid order of the same graph.
 */
export function topologicalOrder(
  graph: Map<string, string[]>,
  compare: (a: string, b: string) => number = byName,
): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "visiting") {
      throw new RealLibraryError(`import cycle: ${[...path, node].join(" -> ")}`);
    }
    state.set(node, "visiting");
    for (const dep of [...graph.get(node) ?? []].sort(compare)) visit(dep, [...path, node]);
    state.set(node, "done");
    order.push(node);
  };
  for (const node of [...graph.keys()].sort(compare)) visit(node, []);
  return order;
}

/** The module a source path holds, given the source directories (`src/A/B.hs` → `A.B`, `X.hs-boot` → `X[boot]`). */
export function moduleOfSource(file: string, sourceDirs: string[]): string {
  const boot = /-boot$/.test(file) ? "[boot]" : "";
  for (const srcDir of sourceDirs) {
    const prefix = srcDir === "." ? "" : `${srcDir}/`;
    if (file.startsWith(prefix)) {
      return `${file.slice(prefix.length).replace(/\.(l?hs)(-boot)?$/, "").replaceAll("/", ".")}${boot}`;
    }
  }
  return `${file}${boot}`;
}

/** The build steps of a source graph ({@linkcode parseDepMakefile}) in dependency order. */
export function stepsOfGraph(graph: Map<string, string[]>, sourceDirs: string[]): BuildStep[] {
  const name = (file: string) => moduleOfSource(file, sourceDirs);
  return topologicalOrder(graph).map((file) => ({
    module: name(file),
    file,
    imports: graph.get(file)!.map(name),
  }));
}

/**
 * The same steps in another dependency order, ties broken by `compare` on module names (C sources, which
 * import nothing, by file name): a build that still succeeds but compiles each module after other
 * predecessors.
 */
export function reorderSteps(steps: BuildStep[], compare: (a: string, b: string) => number): BuildStep[] {
  const byKey = new Map(steps.map((s) => [s.module ?? s.file, s]));
  const graph = new Map(steps.map((s) => [s.module ?? s.file, s.imports]));
  return topologicalOrder(graph, compare).map((key) => {
    const step = byKey.get(key);
    if (!step) throw new RealLibraryError(`a step imports ${key}, which no step builds`);
    return step;
  });
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
