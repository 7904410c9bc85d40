/**
 * Which servers `ghcpw status` and `ghcpw stop` are about: the one named by `--socket` (or its
 * variables), the one for `--ghc` and `--package-db`, or else every server socket in the runtime
 * directory — all of them were started by this user, for whatever GHCs.
 *
 * @module
 */

import { chooseGhc } from "../ghc.ts";
import { explicitSocketPath } from "../paths.ts";
import { ensureRuntimeDir } from "../runtime_dir.ts";
import { ghcIdentity, keyedSocketPath, serverKey } from "../server_key.ts";
import { readToken } from "../token.ts";

/** The servers to address, and the token to address them with. */
export interface Selection {
  sockets: string[];
  /** Whether one server was named (rather than all found in the runtime directory). */
  named: boolean;
  runtime: string;
  /** Null when no server has ever run as this user here. */
  token: string | null;
}

/** Resolves the command line's choice of servers. */
export async function selectServers(values: {
  socket?: string;
  ghc?: string;
  "package-db"?: string[];
}): Promise<Selection> {
  const runtime = await ensureRuntimeDir();
  const token = await readToken(runtime);
  const explicit = explicitSocketPath(values.socket);
  if (explicit !== undefined) return { sockets: [explicit], named: true, runtime, token };
  if (values.ghc !== undefined || values["package-db"] !== undefined) {
    const identity = await ghcIdentity(chooseGhc(values.ghc), runtime);
    const key = await serverKey(identity, { packageDbs: values["package-db"] ?? [] });
    return { sockets: [keyedSocketPath(runtime, identity, key)], named: true, runtime, token };
  }
  const sockets: string[] = [];
  for await (const entry of Deno.readDir(runtime)) {
    if (entry.name.endsWith(".sock") && !entry.isDirectory) sockets.push(`${runtime}/${entry.name}`);
  }
  return { sockets: sockets.sort(), named: false, runtime, token };
}
