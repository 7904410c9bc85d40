/**
 * Where ghcpw keeps things for the current user: the server's socket and the plugin build cache.
 *
 * @module
 */

function home(): string {
  return Deno.env.get("HOME") ?? "/tmp";
}

/** Per-user cache directory (`$XDG_CACHE_HOME/ghcpw`, else `~/.cache/ghcpw`). */
export function cacheDir(): string {
  return `${Deno.env.get("XDG_CACHE_HOME") || `${home()}/.cache`}/ghcpw`;
}

/** Per-user runtime directory for sockets (`$XDG_RUNTIME_DIR/ghcpw`, else `/tmp/ghcpw-<uid>`). */
export function runtimeDir(): string {
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  return xdg ? `${xdg}/ghcpw` : `/tmp/ghcpw-${Deno.uid() ?? "user"}`;
}

/**
 * The socket a client uses: `--socket`, else `GHCPW_SOCKET`, else `GHC_PERSISTENT_WORKER_SOCKET` (the
 * variable of the original ghc-persistent-worker), else the per-user default.
 */
export function resolveSocketPath(
  flag?: string,
  env: (k: string) => string | undefined = Deno.env.get,
): string {
  return flag || env("GHCPW_SOCKET") || env("GHC_PERSISTENT_WORKER_SOCKET") || `${runtimeDir()}/ghcpw.sock`;
}
