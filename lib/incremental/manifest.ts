/**
 * A cache entry's manifest: for one target state (its key), what each module's outputs were and what
 * produced them. Stored as JSON with a checksum of its own, so a truncated, half-written or altered
 * manifest is detected when read and the build simply goes without it. Pure.
 *
 * @module
 */

import { sha256 } from "./hash.ts";

/**
 * Layout version: a manifest of another version is ignored, never misread. 3: each module says whether
 * it ran code while compiled. 4: a module's name is the one GHC built it by, recorded also for sources
 * whose text does not give it.
 */
export const MANIFEST_VERSION = 4;

/** One file GHC wrote for a module. */
export interface OutputFile {
  /** The output directory as the command line named it. */
  dir: string;
  /** The file's path inside that directory. */
  path: string;
  /** SHA-256 of its content: its address in the store. */
  hash: string;
  size: number;
}

/** What one module's outputs were, and what they were made from. */
export interface ModuleRecord {
  /** Its name, as GHC reported it for the source (from its header where no worker reported). */
  module: string;
  /** Its source as the command line named it. */
  source: string;
  sourceHash: string;
  /** Hash of the `.hs-boot` beside the source, or null when there was none. */
  bootHash: string | null;
  files: OutputFile[];
  /**
   * Whether the build that made these outputs ran code of the user's while compiling the module (a
   * Template Haskell splice, a quasi-quote, an annotation), or could not tell: then they are never
   * restored (see plan.ts).
   */
  ranCode: boolean;
  /** Its warnings, each a diagnostic as GHC printed it (never errors: a failed build is not saved). */
  warnings: string[];
}

/** A cache entry's manifest. */
export interface Manifest {
  version: number;
  key: string;
  modules: ModuleRecord[];
}

/** A manifest that cannot be used: corrupt, truncated, of another version or for another key. */
export class ManifestError extends Error {
  override name = "ManifestError";
}

/** The manifest as stored: its JSON with a checksum line in front. */
export function encodeManifest(manifest: Manifest): string {
  const body = JSON.stringify(manifest);
  return `${sha256(body)}\n${body}`;
}

/** Reads a stored manifest for `key`, or throws {@linkcode ManifestError} saying what is wrong with it. */
export function decodeManifest(text: string, key: string): Manifest {
  const newline = text.indexOf("\n");
  if (newline < 0) throw new ManifestError("no checksum line (truncated?)");
  const body = text.slice(newline + 1);
  if (sha256(body) !== text.slice(0, newline)) {
    throw new ManifestError("checksum mismatch (corrupt or truncated)");
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new ManifestError(`not JSON: ${e instanceof Error ? e.message : e}`);
  }
  const m = value as Manifest;
  if (m === null || typeof m !== "object" || m.version !== MANIFEST_VERSION) {
    throw new ManifestError(`not a version ${MANIFEST_VERSION} manifest`);
  }
  if (m.key !== key) throw new ManifestError("written for another key");
  if (!Array.isArray(m.modules) || !m.modules.every(isModuleRecord)) {
    throw new ManifestError("malformed module records");
  }
  return m;
}

const HASH = /^[0-9a-f]{64}$/;

function isModuleRecord(r: ModuleRecord): boolean {
  return r !== null && typeof r === "object" && typeof r.module === "string" &&
    typeof r.source === "string" &&
    typeof r.sourceHash === "string" && (r.bootHash === null || typeof r.bootHash === "string") &&
    typeof r.ranCode === "boolean" &&
    Array.isArray(r.warnings) &&
    r.warnings.every((w) => typeof w === "string") && Array.isArray(r.files) &&
    r.files.every((f) =>
      f !== null && typeof f === "object" && typeof f.dir === "string" && typeof f.path === "string" &&
      HASH.test(f.hash) && Number.isSafeInteger(f.size) && f.size >= 0 && safeRelative(f.path)
    );
}

/** A path inside its directory: relative, without `..` (a manifest must never write outside it). */
function safeRelative(path: string): boolean {
  return path !== "" && !path.startsWith("/") && !path.split("/").some((p) => p === ".." || p === "");
}
