/**
 * The options that name a server, for `ghcpw ghc`, `status` and `stop`. A module of its own so that the
 * client, which starts once per compile, loads these lines and not lib/commands/servers.ts, which
 * resolves them for status and stop and talks to the servers.
 *
 * @module
 */

/**
 * The options that name a server: its socket, or the ghc and `--package-db` list of its key. `ghcpw ghc`
 * takes the same, since they name the server it compiles on (and the compile its fallback runs).
 */
export const SELECT_OPTIONS = {
  socket: { type: "string" },
  ghc: { type: "string" },
  "package-db": { type: "string", multiple: true },
} as const;
