/**
 * Edits of Haskell sources for tests and benchmarks of rebuilds: an export added, a change to a module's
 * code that keeps its interface, and the choice of which module of a project to edit (a leaf, one in the
 * middle of the graph, the root). Written to need nothing in scope, so they apply to any module, even
 * one under NoImplicitPrelude. Pure.
 *
 * @module
 */

import { type BuildStep, dependentsOf } from "./real_library/module_order.ts";

/** Where a module's export list is: the text between its name and `where`, or null for a bad header. */
function exportListOf(source: string, module: string): { at: number; text: string } | null {
  const header = new RegExp(`^module\\s+${module.replaceAll(".", "\\.")}\\b`, "m").exec(source);
  if (header === null) return null;
  const at = header.index + header[0].length;
  const where = /\bwhere\b/.exec(source.slice(at));
  return where === null ? null : { at, text: source.slice(at, at + where.index) };
}

/** Whether the module names what it exports (otherwise every top-level binding is exported). */
export function hasExportList(source: string, module: string): boolean {
  return exportListOf(source, module)?.text.includes("(") ?? false;
}

/**
 * Adds an exported function `name`: first in the export list if there is one (otherwise every top-level
 * binding is exported anyway), defined at the end. Polymorphic, so it needs nothing in scope. Throws if
 * the source has no `module NAME ... where` header.
 */
export function addExport(source: string, module: string, name = "ghcpwAdded"): string {
  const list = exportListOf(source, module);
  if (list === null) throw new Error(`no 'module ${module} ... where' header`);
  const open = list.text.indexOf("(");
  const exported = open < 0
    ? source
    : `${source.slice(0, list.at + open + 1)} ${name},${source.slice(list.at + open + 1)}`;
  return `${exported}\n\n${name} :: a -> a\n${name} x = x\n`;
}

/**
 * Changes the module's code but not its interface: a binding it does not export (so the module must
 * have an export list: {@linkcode hasExportList}). `n` makes successive edits differ.
 */
export function addInternalBinding(source: string, n = 1): string {
  return `${source}\n\nghcpwInternal${n} :: a -> a\nghcpwInternal${n} x = x\n`;
}

/** The modules an edit sequence touches, chosen from a project's graph. */
export interface EditTargets {
  /**
   * A module with the fewest dependents (none but Main, or none at all) with an export list: a body edit
   * there recompiles it alone. Not Main itself.
   */
  leaf: BuildStep;
  /** A module that imports home modules and has dependents, with an export list: the median of such. */
  middle: BuildStep;
  /** The module without home imports that the most modules depend on. */
  root: BuildStep;
}

/**
 * Chooses the modules to edit among `steps` (home modules in dependency order, hs-boot files left out);
 * `exportList` says whether a module has an export list. Ties go to the first in `steps`. Throws if the
 * graph has no such module (a project too small or too flat).
 */
export function chooseEditTargets(
  steps: readonly BuildStep[],
  exportList: (step: BuildStep) => boolean,
): EditTargets {
  const modules = steps.filter((s) => s.module !== null && !s.module.endsWith("[boot]"));
  const dependents = new Map(
    modules.map((s) => [s.module!, dependentsOf([...steps], s.module!).length - 1]),
  );
  const leaf = modules.filter((s) => s.module !== "Main" && exportList(s))
    .sort((a, b) => dependents.get(a.module!)! - dependents.get(b.module!)!)[0];
  const inner = modules
    .filter((s) => s.imports.length > 0 && dependents.get(s.module!)! > 0 && s !== leaf && exportList(s))
    .sort((a, b) => dependents.get(a.module!)! - dependents.get(b.module!)!);
  const roots = modules.filter((s) => s.imports.length === 0 && s !== leaf)
    .sort((a, b) => dependents.get(b.module!)! - dependents.get(a.module!)!);
  if (leaf === undefined || inner.length === 0 || roots.length === 0) {
    throw new Error("the project has no leaf, middle and root module to edit (too small or too flat?)");
  }
  return { leaf, middle: inner[Math.floor(inner.length / 2)], root: roots[0] };
}
