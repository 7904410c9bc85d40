/**
 * The one hash of incremental builds (SHA-256, hex): for sources, output files (the store's addresses),
 * cache keys and manifest checksums alike.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** SHA-256 of bytes or text, in hex. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
