/**
 * Where ghcpw keeps things for the current user: the runtime directory (sockets, the token, start locks),
 * the state directory (server logs) and the plugin build cache.
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

/** Per-user state directory for logs (`$XDG_STATE_HOME/ghcpw`, else `~/.local/state/ghcpw`). */
export function stateDir(): string {
  return `${Deno.env.get("XDG_STATE_HOME") || `${home()}/.local/state`}/ghcpw`;
}

/**
 * Per-user runtime directory for sockets and the token (`$XDG_RUNTIME_DIR/ghcpw`, else
 * `/tmp/ghcpw-<uid>`). An `$XDG_RUNTIME_DIR` that is not an existing directory is ignored rather than
 * trusted, the same way in every ghcpw process, so a client and the server it starts always agree.
 * lib/address/runtime_dir.ts checks the directory before anything in it is used.
 */
export function runtimeDir(): string {
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  if (xdg) {
    try {
      if (Deno.statSync(xdg).isDirectory) return `${xdg}/ghcpw`;
    } catch {
      // missing: use the /tmp fallback below
    }
  }
  return `/tmp/ghcpw-${Deno.uid() ?? "user"}`;
}

/**
 * The socket named explicitly: `--socket`, else `GHCPW_SOCKET`, else `GHC_PERSISTENT_WORKER_SOCKET` (the
 * variable of the original ghc-persistent-worker). Undefined means the keyed default in the runtime
 * directory (lib/address/server_key.ts), which only ghcpw itself creates and which auto-start may serve.
 */
export function explicitSocketPath(
  flag?: string,
  env: (k: string) => string | undefined = Deno.env.get,
): string | undefined {
  return flag || env("GHCPW_SOCKET") || env("GHC_PERSISTENT_WORKER_SOCKET") || undefined;
}

/** The log file of the server on `socket`: named after a keyed socket, by a hash of the path otherwise. */
export async function serverLogFile(socket: string, runtime = runtimeDir()): Promise<string> {
  const name = socket.slice(socket.lastIndexOf("/") + 1);
  if (socket === `${runtime}/${name}` && name.endsWith(".sock")) {
    return `${stateDir()}/${name.slice(0, -".sock".length)}.log`;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(socket)));
  const hex = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${stateDir()}/socket-${hex}.log`;
}
