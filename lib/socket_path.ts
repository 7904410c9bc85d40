/**
 * Getting a socket path ready for a server: its directory exists and is private, and no live server
 * already listens there (a socket file left by a dead server is removed).
 *
 * @module
 */

/** Another server already answers on the socket. */
export class ServerRunning extends Error {
  override name = "ServerRunning";
}

/** Creates the socket's directory (0700) and removes a stale socket; refuses if a server answers. */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!info.isSocket) {
    throw new Error(`${path} exists and is not a socket; remove it or choose another --socket`);
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    throw new ServerRunning(`a ghcpw server is already running on ${path}`);
  } catch (e) {
    if (e instanceof ServerRunning) throw e;
    // Nobody listens: the socket was left behind by a server that died.
    await Deno.remove(path);
  }
}
