/**
 * The files GHC wrote into a target's output directories, attributed to modules by their paths
 * (`A/B/C.o`, `A/B/C.dyn_hi`, `A/B/C.hi-boot`, `A/B/C.hie`, `A/B/C_stub.h` all belong to `A.B.C`), and
 * putting saved ones back.
 *
 * @module
 */

import { resolve } from "node:path";
import type { ModuleRecord } from "./manifest.ts";
import type { Store } from "./store.ts";

/** One file found in an output directory. */
export interface FoundOutput {
  /** The output directory as the command line named it. */
  dir: string;
  /** The path inside it. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** The module an output file belongs to, from its path inside its output directory; null if none. */
export function moduleOfOutput(path: string): string | null {
  const parts = path.split("/");
  const base = parts.pop()!;
  const stem = base.endsWith("_stub.h") ? base.slice(0, -"_stub.h".length) : base.split(".", 1)[0];
  if (stem === base) return null;
  const name = [...parts, stem];
  return name.every((p) => /^[A-Z][\w']*$/.test(p)) ? name.join(".") : null;
}

/** Every file in the output directories (relative to `cwd`), by module; files of no module are left out. */
export async function scanOutputs(cwd: string, dirs: readonly string[]): Promise<Map<string, FoundOutput[]>> {
  const byModule = new Map<string, FoundOutput[]>();
  const seen = new Set<string>();
  const walk = async (dir: string, prefix: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(`${resolve(cwd, dir)}/${prefix}`));
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory) {
        await walk(dir, path);
        continue;
      }
      const full = `${resolve(cwd, dir)}/${path}`;
      const module = moduleOfOutput(path);
      // -outputdir names one directory for every kind: each file is found once.
      if (module === null || seen.has(full)) continue;
      seen.add(full);
      const info = await Deno.stat(full).catch(() => null);
      if (info === null || !info.isFile) continue;
      const list = byModule.get(module) ?? [];
      list.push({ dir, path, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 });
      byModule.set(module, list);
    }
  };
  for (const dir of dirs) await walk(dir, "");
  return byModule;
}

/**
 * Puts saved modules' outputs back, each file with the modification time `timeMs`, files and directories
 * with the modes GHC would have given them under the client's `umask` (the server's own may differ). A
 * module is restored whole or not at all: one missing or corrupt stored file, or a failed write, leaves it
 * to GHC. Resolves to the modules restored.
 */
export async function restoreOutputs(
  store: Store,
  cwd: string,
  records: readonly ModuleRecord[],
  timeMs: number,
  umask: number,
): Promise<ModuleRecord[]> {
  const restored: ModuleRecord[] = [];
  const time = new Date(timeMs);
  for (const record of records) {
    const contents = await Promise.all(record.files.map((f) => store.readBlob(f.hash)));
    if (contents.some((c) => c === null)) continue;
    const written: string[] = [];
    try {
      for (const [i, file] of record.files.entries()) {
        const full = `${resolve(cwd, file.dir)}/${file.path}`;
        await makeDirectories(full.slice(0, full.lastIndexOf("/")), 0o777 & ~umask);
        written.push(full);
        // A restored file is one that is missing: created here, so the mode is set in full.
        await Deno.writeFile(full, contents[i]!, { mode: 0o666 & ~umask });
        await Deno.utime(full, time, time);
      }
      restored.push(record);
    } catch {
      for (const full of written) await Deno.remove(full).catch(() => {});
    }
  }
  return restored;
}

/** Creates `dir` and its missing parents, each with exactly `mode` (as with the client's umask). */
async function makeDirectories(dir: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; d !== "/" && d !== "" && !await isDirectory(d); d = d.slice(0, d.lastIndexOf("/"))) {
    missing.unshift(d);
  }
  for (const d of missing) {
    await Deno.mkdir(d).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    await Deno.chmod(d, mode);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
