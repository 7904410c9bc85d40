/**
 * The options that name a server, for `ghcpw ghc`, `buck2`, `status` and `stop`. A module of its own so
 * that the client, which starts once per compile, loads these lines and not lib/commands/servers.ts,
 * which resolves them for status and stop and talks to the servers.
 *
 * @module
 */

import { deterministicObjects, type Share, ShareError, shareSetting } from "../share.ts";
import { UsageError } from "./usage_error.ts";

/**
 * The options that name a server: its socket, or the ghc, `--package-db` list and `--share` setting of
 * its key. `ghcpw ghc` takes the same, since they name the server it compiles on (and the compile its
 * fallback runs).
 */
export const SELECT_OPTIONS = {
  socket: { type: "string" },
  ghc: { type: "string" },
  "package-db": { type: "string", multiple: true },
  share: { type: "string" },
} as const;

/** The `--share` lines of a command's `--help`, aligned with the other options. */
export const SHARE_HELP = `  --share LIST        what GHC workers keep between requests: none, or a
                      comma-separated set of all, names, databases,
                      interfaces, code (default: $GHCPW_SHARE, else all,
                      which is names,databases,interfaces; e.g. all,code
                      adds loaded code). Without names, .o files are
                      byte-identical to cold ghc's`;

/** The command line's (else `$GHCPW_SHARE`'s) share setting; a bad one is a usage error. */
export function shareOption(command: string, values: { share?: string }): Share {
  try {
    return shareSetting(values.share);
  } catch (e) {
    if (e instanceof ShareError) throw new UsageError(`ghcpw ${command}: ${e.message}`);
    throw e;
  }
}

/** The server-key settings of a command line: its `--package-db` list and share setting. */
export function keySettings(command: string, values: { "package-db"?: string[]; share?: string }) {
  return {
    packageDbs: values["package-db"] ?? [],
    deterministicObjects: deterministicObjects(shareOption(command, values)),
  };
}
