/**
 * A server's socket path, from start to exit: its directory exists, no live server already listens there,
 * a socket file left by a dead server is removed, and the path only ever shows a socket that is ready
 * and private. At exit the server removes the path only if it still holds its own socket.
 *
 * Every change to the path happens under a lock file beside it, so two servers starting at once (or one
 * starting while another exits) cannot both decide the path is stale and delete each other's sockets.
 * The socket is bound under a private name, made 0600 and then renamed into place, so clients never see
 * it before it answers, and no one ever sees it with looser permissions.
 *
 * @module
 */

import { withFileLock } from "./file_lock.ts";
import { connectUnix, listenUnix } from "./unix_socket.ts";

/** Another server already answers on the socket. */
export class ServerRunning extends Error {
  override name = "ServerRunning";
}

/** A listener bound at a path, and the identity (inode) of the socket file it owns there. */
export interface BoundSocket {
  path: string;
  listener: Deno.UnixListener;
  ino: number | null;
}

/** What is at a socket path: a server that answers, a socket no one listens on, or nothing. */
export type SocketState = "live" | "stale" | "missing";

/** Looks at a socket path without changing it; throws if something other than a socket is there. */
export async function probeSocket(path: string): Promise<SocketState> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "missing";
    throw e;
  }
  if (!info.isSocket) {
    throw new Error(`${path} exists and is not a socket; remove it or choose another --socket`);
  }
  try {
    (await connectUnix(path)).close();
    return "live";
  } catch (e) {
    // Only a refused connection proves no one listens; anything else (a full backlog) may be a busy
    // server, whose socket must not be deleted.
    if (e instanceof Deno.errors.ConnectionRefused) return "stale";
    if (e instanceof Deno.errors.NotFound) return "missing";
    throw new ServerRunning(
      `cannot tell whether a server listens on ${path}: ${e instanceof Error ? e.message : e}`,
    );
  }
}

/** Creates the socket's directory (0700) and refuses early if a live server already answers there. */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (await probeSocket(path) === "live") {
    throw new ServerRunning(`a ghcpw server is already running on ${path}`);
  }
}

/**
 * Binds a listener at `path` for a server that is ready to serve: refuses if a live server answers
 * there, removes a stale socket, and puts a fresh 0600 socket in place atomically.
 */
export function bindSocket(path: string): Promise<BoundSocket> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  return withFileLock(lockFile(path), async () => {
    const state = await probeSocket(path);
    if (state === "live") throw new ServerRunning(`a ghcpw server is already running on ${path}`);
    const temporary = `${dir}/.ghcpw-bind-${crypto.randomUUID().slice(0, 8)}`;
    const listener = listenUnix(temporary);
    try {
      await Deno.chmod(temporary, 0o600);
      // rename() replaces a stale socket in the same step as it publishes ours.
      await Deno.rename(temporary, path);
    } catch (e) {
      listener.close();
      await Deno.remove(temporary).catch(() => {});
      throw e;
    }
    return { path, listener, ino: await inode(path) };
  });
}

/** Whether the socket file at the path is still the one this server bound (not removed or replaced). */
export async function socketIsOurs(bound: BoundSocket): Promise<boolean> {
  const ino = await inode(bound.path);
  return ino !== null && ino === bound.ino;
}

/**
 * Removes the server's socket file if it is still its own, so that clients stop connecting; a socket
 * another server has put there since is left alone. Closing the listener is the caller's business.
 */
export function releaseSocket(bound: BoundSocket): Promise<void> {
  return withFileLock(lockFile(bound.path), async () => {
    if (await socketIsOurs(bound)) await Deno.remove(bound.path).catch(() => {});
  }).catch(() => {
    // The directory itself is gone: nothing to release.
  });
}

/** The lock file that serialises changes to a socket path. */
export function lockFile(socket: string): string {
  return `${socket}.lock`;
}

async function inode(path: string): Promise<number | null> {
  try {
    return (await Deno.lstat(path)).ino;
  } catch {
    return null;
  }
}
