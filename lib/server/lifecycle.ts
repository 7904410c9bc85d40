/**
 * When a server stops by itself: after a time with no compiles (so a server auto-started by a build
 * does not hold GHC processes and their memory for ever), and when its socket file is removed or
 * replaced (a /tmp cleaner, `rm`, or another server taking the path): a server no client can reach is
 * only using memory. Either way it stops like `ghcpw stop`: running compiles finish first.
 *
 * @module
 */

import { formatDuration } from "../duration.ts";
import type { Server } from "./server.ts";
import { socketIsOurs } from "../address/socket_path.ts";

/** The idle time after which a server exits, unless told otherwise. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60 * 1000;

/** How often the socket file is checked. */
const SOCKET_CHECK_MS = 1000;

/** Watches `server` until it finishes; `idleTimeoutMs` 0 means never exit for idleness. */
export function superviseServer(server: Server, idleTimeoutMs: number): void {
  const interval = idleTimeoutMs > 0
    ? Math.min(SOCKET_CHECK_MS, Math.max(idleTimeoutMs / 4, 50))
    : SOCKET_CHECK_MS;
  let checking = false;
  const timer = setInterval(async () => {
    if (checking || server.stopping) return;
    checking = true;
    try {
      if (!await socketIsOurs(server.socket)) {
        await server.stopAccepting(`its socket ${server.socket.path} was removed or replaced`);
      } else if (
        idleTimeoutMs > 0 && server.compiling === 0 && Date.now() - server.lastActivity >= idleTimeoutMs
      ) {
        await server.stopAccepting(`idle for ${formatDuration(idleTimeoutMs)}`);
      }
    } finally {
      checking = false;
    }
  }, interval);
  server.finished.finally(() => clearInterval(timer));
}
