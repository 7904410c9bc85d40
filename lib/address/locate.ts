/**
 * Where the server for a ghc listens, worked out the same way by everyone who looks for it: the client,
 * `ghcpw serve` (which listens there) and `ghcpw status`/`stop`. The socket is named by the server key of
 * the ghc and its settings in the user's checked runtime directory, unless one is named explicitly.
 *
 * @module
 */

import { ensureRuntimeDir } from "./runtime_dir.ts";
import { type GhcIdentity, ghcIdentity, keyedSocketPath, serverKey } from "./server_key.ts";

/** A server's address and what it was derived from. */
export interface ServerAddress {
  /** The checked runtime directory (which also holds the token). */
  runtime: string;
  identity: GhcIdentity;
  /** The server key (lib/address/server_key.ts). */
  key: string;
  /** The explicit socket if one was given, else the keyed one in the runtime directory. */
  socket: string;
}

/**
 * Finds the address of the server for `ghc` (a name on PATH or a path) serving with `packageDbs`;
 * `socket`, when given, overrides the keyed socket path. Rejects for an unsafe runtime directory or a
 * ghc that cannot be run.
 */
export async function locateServer(
  ghc: string,
  packageDbs: readonly string[],
  socket?: string,
): Promise<ServerAddress> {
  const runtime = await ensureRuntimeDir();
  const identity = await ghcIdentity(ghc, runtime);
  const key = await serverKey(identity, { packageDbs });
  return { runtime, identity, key, socket: socket ?? keyedSocketPath(runtime, identity, key) };
}
