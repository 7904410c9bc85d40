/**
 * The options that say when a healthy GHC worker is replaced, shared by `ghcpw serve` and `ghcpw bazel`
 * (both run a pool of workers): how they are written, their `--help` lines, and their parsing.
 *
 * @module
 */

import { DEFAULT_MAX_REQUESTS, DEFAULT_MAX_RSS_BYTES, type RecycleLimits } from "../pool/pool.ts";
import { byteSize, positiveInteger } from "./options.ts";

/** The recycling options, for a command's option table. */
export const RECYCLE_OPTIONS = {
  "max-requests": { type: "string" },
  "max-rss": { type: "string" },
} as const;

/** Their lines in a command's `--help`, aligned with the other options. */
export const RECYCLE_HELP = `  --max-requests N    replace a GHC worker after it has served N requests
                      (default ${DEFAULT_MAX_REQUESTS})
  --max-rss SIZE      replace a GHC worker whose resident memory is above SIZE
                      after a request (default ${DEFAULT_MAX_RSS_BYTES / 1024 ** 3}G); SIZE is bytes or has a
                      unit: 512M, 2G (K, M, G, T: powers of 1024)`;

/** The limits the command line sets; those not given are left to the pool's defaults. */
export function recycleLimits(
  command: string,
  values: { "max-requests"?: string; "max-rss"?: string },
): RecycleLimits {
  const requests = values["max-requests"];
  const rss = values["max-rss"];
  return {
    ...requests === undefined ? {} : { maxRequests: positiveInteger(command, "--max-requests", requests) },
    ...rss === undefined ? {} : { maxRssBytes: byteSize(command, "--max-rss", rss) },
  };
}
