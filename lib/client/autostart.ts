/**
 * Starting a server in the background: for `ghcpw ghc` when none answers (auto-start), and for
 * `ghcpw serve --detach`.
 *
 * Many clients find no server at the same moment (a build starts sixteen compiles at once), and all
 * must end up using one server. So a client takes a start lock beside the socket, checks again whether
 * a server answers (another client may have started one meanwhile), starts one only if not, and holds
 * the lock until it answers; the others wait on the lock, find it answering, and use it. The lock is a
 * kernel lock (lib/address/file_lock.ts), so a client killed while starting never blocks the next one, and the
 * server binds its socket under a separate lock (lib/address/socket_path.ts), so it cannot deadlock with the
 * client that started it.
 *
 * The server is started detached: in a session of its own (no terminal's hang-up or Ctrl-C reaches
 * it), with /dev/null for its standard streams, its working directory at `/`, and told to close every
 * other descriptor it inherited (lib/server/daemon.ts), so the build that started it never waits on it.
 *
 * @module
 */

import { withFileLock } from "../address/file_lock.ts";
import { deferredLogger } from "../log/logging.ts";
import { probeSocket } from "../address/socket_path.ts";

const log = deferredLogger(["ghcpw", "autostart"]);

/** How long a client waits for a server it started (the first start for a GHC builds the plugin). */
export const DEFAULT_START_TIMEOUT_MS = 180_000;

/** A server could not be started, or did not answer in time. */
export class StartFailed extends Error {
  override name = "StartFailed";
}

/**
 * The command line that runs this very ghcpw: the binary itself when it is a `deno compile` result,
 * else `deno run -A` on this checkout's main.ts.
 */
export function selfCommand(): string[] {
  const exec = Deno.execPath();
  const name = exec.slice(exec.lastIndexOf("/") + 1);
  if (!/^deno(\.exe)?$/.test(name)) return [exec];
  return [exec, "run", "-A", new URL("../../main.ts", import.meta.url).pathname];
}

/** Whether a server answers on `socket` now. */
export async function answers(socket: string): Promise<boolean> {
  try {
    return await probeSocket(socket) === "live";
  } catch {
    return false;
  }
}

/** How to start a server. */
export interface StartOptions {
  socket: string;
  /** Arguments of `ghcpw serve` (the socket and the internal `--daemon` flag are added). */
  serveArgs: string[];
  /** How long to wait for it to answer. */
  timeoutMs?: number;
}

/**
 * Makes sure a server answers on `options.socket`, starting one in the background if none does; safe to
 * call from any number of processes at once. Resolves to the pid of a server this call started, or null
 * if one was already answering.
 */
export async function ensureServer(options: StartOptions): Promise<number | null> {
  await Deno.mkdir(options.socket.slice(0, options.socket.lastIndexOf("/")) || "/", {
    recursive: true,
    mode: 0o700,
  });
  return await withFileLock(startLockFile(options.socket), async () => {
    if (await answers(options.socket)) return null;
    return await startServer(options);
  });
}

/** The lock file that serialises starting a server on `socket` (see the module comment). */
function startLockFile(socket: string): string {
  return `${socket}.start.lock`;
}

/**
 * Starts a server in the background and waits until it answers on its socket; throws
 * {@linkcode StartFailed} if it exits first or does not answer within the timeout. Only under the start
 * lock ({@linkcode ensureServer}): processes may race to start one.
 */
async function startServer(options: StartOptions): Promise<number> {
  const [command, ...prefix] = selfCommand();
  const args = [...prefix, "serve", ...options.serveArgs, "--socket", options.socket, "--daemon"];
  log.debug("Starting a server: {command} {args}", { command, args: args.join(" ") });
  const child = new Deno.Command(command, {
    args,
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  // The client must be able to exit while the server runs on.
  child.unref();
  let exited: Deno.CommandStatus | null = null;
  child.status.then((s) => exited = s, () => {});
  const timeout = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const deadline = Date.now() + timeout;
  for (let pause = 10; Date.now() < deadline; pause = Math.min(pause * 2, 200)) {
    if (await answers(options.socket)) return child.pid;
    if (exited !== null) {
      // It may have lost a race to a server started some other way, which is as good.
      if (await answers(options.socket)) return child.pid;
      const how = (exited as Deno.CommandStatus).signal ?? `exit code ${(exited as Deno.CommandStatus).code}`;
      throw new StartFailed(`the ghcpw server stopped during start-up (${how})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  throw new StartFailed(`the ghcpw server did not answer on ${options.socket} within ${timeout / 1000} s`);
}
