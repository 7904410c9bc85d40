/**
 * The on-disk cache of incremental builds, per user: stored output files addressed by their SHA-256
 * (`blobs/ab/abcd...`) and one manifest per target state (`entries/KEY`). Everything is written to a
 * temporary name and renamed into place, so readers, concurrent builds of the same target and other
 * ghcpw processes only ever see whole files; what is read is checked against its hash, so a corrupt or
 * truncated file is dropped and the build merely goes without it. Bounded by size, least recently used
 * entries first (lib/incremental/lru.ts).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { dirNames } from "./dir.ts";
import { sha256 } from "./hash.ts";
import { chooseEviction, type EntryUse } from "./lru.ts";
import { decodeManifest, encodeManifest, type Manifest, ManifestError } from "./manifest.ts";

const log = getLogger(["ghcpw", "incremental"]);

/** The store's size unless `--incremental-cache-size` says otherwise: room for a few large targets. */
export const DEFAULT_CACHE_BYTES = 2 * 1024 ** 3;

/** Unreferenced files younger than this may belong to a save still writing its manifest. */
const ORPHAN_GRACE_MS = 10 * 60 * 1000;

/** The cache directory of incremental builds. */
export class Store {
  /** The store's size as its last eviction found it (null before the first). */
  sizeBytes: number | null = null;

  constructor(readonly root: string, readonly limitBytes: number = DEFAULT_CACHE_BYTES) {}

  #blobPath(hash: string): string {
    return `${this.root}/blobs/${hash.slice(0, 2)}/${hash}`;
  }

  #entryPath(key: string): string {
    return `${this.root}/entries/${key}`;
  }

  /** The manifest saved for `key`, marked as just used; null if there is none or it is unusable. */
  async readManifest(key: string): Promise<Manifest | null> {
    const path = this.#entryPath(key);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        log.warn("Cannot read {path}: {error}", { path, error: String(e) });
      }
      return null;
    }
    try {
      const manifest = decodeManifest(text, key);
      const now = new Date();
      await Deno.utime(path, now, now).catch(() => {});
      return manifest;
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      log.warn("Ignoring the cache entry {path}: {error}", { path, error: e.message });
      await Deno.remove(path).catch(() => {});
      return null;
    }
  }

  /** A stored file's content, or null if it is missing or does not match its hash (then it is deleted). */
  async readBlob(hash: string): Promise<Uint8Array | null> {
    const path = this.#blobPath(hash);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      return null;
    }
    if (sha256(bytes) === hash) return bytes;
    log.warn("Ignoring the corrupt stored file {path}", { path });
    await Deno.remove(path).catch(() => {});
    return null;
  }

  /**
   * Stores a file's content under its hash. One already stored is only marked as reused, unless its size
   * shows it damaged (other damage is caught by the hash check when it is read).
   */
  async writeBlob(hash: string, bytes: Uint8Array): Promise<void> {
    const path = this.#blobPath(hash);
    const info = await Deno.stat(path).catch(() => null);
    if (info?.size === bytes.length) {
      const now = new Date();
      await Deno.utime(path, now, now);
      return;
    }
    await this.#writeAtomically(path, bytes);
  }

  /** Saves a manifest; the last of two concurrent saves of one key wins, each whole. */
  async writeManifest(manifest: Manifest): Promise<void> {
    await this.#writeAtomically(
      this.#entryPath(manifest.key),
      new TextEncoder().encode(encodeManifest(manifest)),
    );
  }

  async #writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const temporary = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.writeFile(temporary, bytes);
      await Deno.rename(temporary, path);
    } catch (e) {
      await Deno.remove(temporary).catch(() => {});
      throw e;
    }
  }

  /** Deletes least recently used entries (and files only they used) until the store fits its limit. */
  async evict(now = Date.now()): Promise<void> {
    const entries: EntryUse[] = [];
    for (const name of await dirNames(`${this.root}/entries`)) {
      const path = this.#entryPath(name);
      if (name.includes(".tmp-")) continue;
      try {
        const [text, info] = await Promise.all([Deno.readTextFile(path), Deno.stat(path)]);
        const manifest = decodeManifest(text, name);
        const blobs = manifest.modules.flatMap((m) => m.files.map((f) => f.hash));
        entries.push({ key: name, usedAt: info.mtime?.getTime() ?? 0, size: info.size, blobs });
      } catch {
        // Unreadable or corrupt: it holds nothing worth keeping.
        await Deno.remove(path).catch(() => {});
      }
    }
    const blobs = new Map<string, { size: number; touchedAt: number }>();
    for (const dir of await dirNames(`${this.root}/blobs`)) {
      for (const name of await dirNames(`${this.root}/blobs/${dir}`)) {
        const info = await Deno.stat(`${this.root}/blobs/${dir}/${name}`).catch(() => null);
        if (info !== null) blobs.set(name, { size: info.size, touchedAt: info.mtime?.getTime() ?? 0 });
      }
    }
    const eviction = chooseEviction(entries, blobs, this.limitBytes, now, ORPHAN_GRACE_MS);
    for (const key of eviction.entries) await Deno.remove(this.#entryPath(key)).catch(() => {});
    // A temporary name a failed write left behind is referred to by nothing, so it goes like an orphan.
    for (const name of eviction.blobs) await Deno.remove(this.#blobPath(name)).catch(() => {});
    if (eviction.entries.length > 0) {
      log.info("Evicted {count} incremental cache entries to stay under {limit} bytes", {
        count: eviction.entries.length,
        limit: this.limitBytes,
      });
    }
    this.sizeBytes = eviction.remainingBytes;
  }
}
