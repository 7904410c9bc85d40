/**
 * Unix sockets at any path length. The kernel takes a socket's path in a fixed buffer (108 bytes on
 * Linux, 104 on macOS and the BSDs, including the terminating NUL), which a deep `$XDG_RUNTIME_DIR`, a
 * long home directory or a build system's scratch directory can exceed. For such paths ghcpw binds and
 * connects through a relative name from inside the socket's directory, which the kernel resolves with
 * no length limit on the directory part.
 *
 * @module
 */

/** The longest socket path, in bytes, that the kernel accepts directly. */
export const MAX_SOCKET_PATH_BYTES = Deno.build.os === "linux" ? 107 : 103;

/** A socket path's directory part and name; throws if even the name alone is too long. */
function split(path: string): { dir: string; name: string } {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : "/";
  const name = path.slice(slash + 1);
  if (new TextEncoder().encode(name).length > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `socket name ${
        JSON.stringify(name)
      } is longer than the ${MAX_SOCKET_PATH_BYTES} bytes unix sockets allow`,
    );
  }
  return { dir, name };
}

function fits(path: string): boolean {
  return new TextEncoder().encode(path).length <= MAX_SOCKET_PATH_BYTES;
}

/**
 * Runs `fn` with the working directory set to `dir`, and restores it afterwards. Only for moments when
 * nothing else in the process depends on the working directory: ghcpw passes explicit directories to
 * everything it runs, and calls this at start-up (servers) or before any other work (clients).
 */
async function inDirectory<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  const previous = Deno.cwd();
  Deno.chdir(dir);
  try {
    return await fn();
  } finally {
    Deno.chdir(previous);
  }
}

/** How long a connection attempt retries while the server's backlog is full. */
const BACKLOG_RETRY_MS = 5000;

/**
 * Connects to the unix socket at `path`, whatever its length. A full listen backlog (a burst of clients
 * faster than the server accepts; the kernel answers EAGAIN) is not "no server": it retries for a while.
 */
export async function connectUnix(path: string): Promise<Deno.UnixConn> {
  const deadline = Date.now() + BACKLOG_RETRY_MS;
  for (let pause = 2;; pause = Math.min(pause * 2, 100)) {
    try {
      if (fits(path)) return await Deno.connect({ transport: "unix", path });
      const { dir, name } = split(path);
      return await inDirectory(dir, () => Deno.connect({ transport: "unix", path: name }));
    } catch (e) {
      if (!(e instanceof Deno.errors.WouldBlock) || Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** Listens on a new unix socket at `path`, whatever its length. */
export function listenUnix(path: string): Deno.UnixListener {
  if (fits(path)) return Deno.listen({ transport: "unix", path });
  const { dir, name } = split(path);
  const previous = Deno.cwd();
  Deno.chdir(dir);
  try {
    return Deno.listen({ transport: "unix", path: name });
  } finally {
    Deno.chdir(previous);
  }
}
