/**
 * The options of incremental `--make` builds, shared by `ghcpw serve` and `ghcpw bazel` (both serve
 * compiles): how they are written, their `--help` lines, and their parsing.
 *
 * @module
 */

import { INCREMENTAL_ENV } from "../incremental/build.ts";
import { DEFAULT_CACHE_BYTES } from "../incremental/store.ts";
import { byteSize } from "./options.ts";
import { UsageError } from "./usage_error.ts";

/** Whether `--make` builds are incremental when neither the options nor the invocation say. */
export const INCREMENTAL_BY_DEFAULT = true;

/** The options, for a command's option table. */
export const INCREMENTAL_OPTIONS = {
  incremental: { type: "boolean" },
  "no-incremental": { type: "boolean" },
  "incremental-cache-size": { type: "string" },
} as const;

/** Their lines in a command's `--help`, aligned with the other options. */
export const INCREMENTAL_HELP = `  --incremental       make --make builds that name output directories
                      incremental: restore unchanged modules' outputs from
                      a cache (${
  INCREMENTAL_BY_DEFAULT ? "the default" : `default: only if ${INCREMENTAL_ENV}=1`
}); ${INCREMENTAL_ENV}=0 in
                      an invocation's environment opts that build out
  --no-incremental    never restore or save outputs of --make builds
  --incremental-cache-size SIZE
                      bound of the per-user cache of build outputs, least
                      recently used targets evicted first (default ${DEFAULT_CACHE_BYTES / 1024 ** 3}G)`;

/** What the options say: null for off, else the default for invocations and the cache's size. */
export function incrementalSettings(
  command: string,
  values: { incremental?: boolean; "no-incremental"?: boolean; "incremental-cache-size"?: string },
): { byDefault: boolean; cacheBytes: number } | null {
  if (values.incremental && values["no-incremental"]) {
    throw new UsageError(`ghcpw ${command}: --incremental and --no-incremental exclude each other`);
  }
  if (values["no-incremental"]) return null;
  const size = values["incremental-cache-size"];
  return {
    byDefault: values.incremental ?? INCREMENTAL_BY_DEFAULT,
    cacheBytes: size === undefined
      ? DEFAULT_CACHE_BYTES
      : byteSize(command, "--incremental-cache-size", size),
  };
}
