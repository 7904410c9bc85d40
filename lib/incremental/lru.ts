/**
 * Which cache entries go when the store is over its size: least recently used first, counting each
 * stored file once however many entries share it. Pure, so the policy is unit-tested apart from the disk.
 *
 * @module
 */

/** One entry as eviction sees it. */
export interface EntryUse {
  key: string;
  /** When a build last restored from it or saved it (ms since the epoch). */
  usedAt: number;
  /** Its manifest's own size in bytes. */
  size: number;
  /** The stored files it refers to. */
  blobs: readonly string[];
}

/** One stored file as eviction sees it. */
export interface BlobInfo {
  size: number;
  /** When it was last written or reused by a save (ms since the epoch). */
  touchedAt: number;
}

/** What to delete, and the store's size once it is gone. */
export interface Eviction {
  entries: string[];
  blobs: string[];
  remainingBytes: number;
}

/**
 * Chooses entries and files to delete so the store fits in `limitBytes`. Files no entry refers to are
 * deleted once older than `graceMs` (a save writes its files before its manifest, so a young one may be
 * about to be referred to); then the least recently used entries go, with the files only they used,
 * until the rest fits.
 */
export function chooseEviction(
  entries: readonly EntryUse[],
  blobs: ReadonlyMap<string, BlobInfo>,
  limitBytes: number,
  now: number,
  graceMs: number,
): Eviction {
  const refs = new Map<string, number>();
  for (const e of entries) for (const b of new Set(e.blobs)) refs.set(b, (refs.get(b) ?? 0) + 1);
  const deadBlobs: string[] = [];
  let total = 0;
  for (const [hash, info] of blobs) {
    if (!refs.has(hash) && now - info.touchedAt > graceMs) deadBlobs.push(hash);
    else total += info.size;
  }
  for (const e of entries) total += e.size;
  const deadEntries: string[] = [];
  for (const e of [...entries].sort((a, b) => a.usedAt - b.usedAt)) {
    if (total <= limitBytes) break;
    deadEntries.push(e.key);
    total -= e.size;
    for (const b of new Set(e.blobs)) {
      const left = refs.get(b)! - 1;
      refs.set(b, left);
      const info = blobs.get(b);
      if (left === 0 && info !== undefined) {
        deadBlobs.push(b);
        total -= info.size;
      }
    }
  }
  return { entries: deadEntries, blobs: deadBlobs, remainingBytes: total };
}
