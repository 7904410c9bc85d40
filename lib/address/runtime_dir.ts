/**
 * The per-user runtime directory (lib/address/paths.ts `runtimeDir`) holds what lets a process submit compiles:
 * the servers' sockets and the secret token. Anyone who could create or swap files in it could read
 * other users' source through a fake server, or run code through a real one, so ghcpw only uses it
 * when it is a real directory (not a symbolic link), owned by the current user, with no access for
 * group or others. It creates it that way when it is missing; any other state is refused with a message
 * that says how to fix it, because silently repairing a directory someone else prepared is unsafe.
 *
 * @module
 */

import { runtimeDir } from "./paths.ts";

/** The runtime directory cannot be trusted (or created); the message says why and what to do. */
export class UnsafeRuntimeDir extends Error {
  override name = "UnsafeRuntimeDir";
}

/**
 * Creates the runtime directory (mode 0700) if it is missing, then checks it (see
 * {@linkcode checkPrivateDir}); resolves to its path.
 */
export async function ensureRuntimeDir(dir: string = runtimeDir()): Promise<string> {
  // Looked at first: it exists on every run but the first, and creating it anyway would throw, which
  // costs every client a millisecond.
  const present = lstatIfPresent(dir);
  if (present === null) {
    try {
      // Not recursive: the parent ($XDG_RUNTIME_DIR or /tmp) must already exist, and an intermediate
      // directory created here would not get the checks.
      await Deno.mkdir(dir, { mode: 0o700 });
      // The umask may have removed bits the owner needs; never added any for others.
      await Deno.chmod(dir, 0o700);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new UnsafeRuntimeDir(`cannot create ghcpw's runtime directory ${dir}: ${messageOf(e)}`);
      }
    }
  }
  checkPrivateDirInfo(dir, present ?? await lstatOrRefuse(dir));
  return dir;
}

/** The entry at `path` itself (a link not followed), or null if there is none. */
function lstatIfPresent(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch {
    return null;
  }
}

/**
 * Checks that `dir` is a directory, not a symbolic link, owned by the current user and closed to group
 * and others; throws {@linkcode UnsafeRuntimeDir} otherwise. Also used for the runtime directory when a
 * process only reads from it (a client that does not start servers).
 */
export async function checkPrivateDir(dir: string): Promise<void> {
  checkPrivateDirInfo(dir, await lstatOrRefuse(dir));
}

async function lstatOrRefuse(dir: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.lstat(dir);
  } catch (e) {
    throw new UnsafeRuntimeDir(`cannot use ghcpw's runtime directory ${dir}: ${messageOf(e)}`);
  }
}

/** {@linkcode checkPrivateDir} on what lstat said of `dir`. */
function checkPrivateDirInfo(dir: string, info: Deno.FileInfo): void {
  const advice = `remove it (ghcpw recreates it safely) or set XDG_RUNTIME_DIR to a private directory`;
  if (info.isSymlink) {
    throw new UnsafeRuntimeDir(
      `ghcpw's runtime directory ${dir} is a symbolic link, which ghcpw refuses; ${advice}`,
    );
  }
  if (!info.isDirectory) {
    throw new UnsafeRuntimeDir(`ghcpw's runtime directory ${dir} is not a directory; ${advice}`);
  }
  const uid = Deno.uid();
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    throw new UnsafeRuntimeDir(
      `ghcpw's runtime directory ${dir} belongs to uid ${info.uid}, not to you (uid ${uid}); ${advice}`,
    );
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new UnsafeRuntimeDir(
      `ghcpw's runtime directory ${dir} has mode ${octal(info.mode)}, which lets other users in; ` +
        `ghcpw needs 0700 (chmod 700 ${dir})`,
    );
  }
}

/**
 * Checks a file ghcpw keeps secrets or trusted data in: a regular file (not a link), owned by the current
 * user, readable by no one else. Throws {@linkcode UnsafeRuntimeDir} otherwise.
 */
export function checkPrivateFile(path: string, info: Deno.FileInfo): void {
  if (!info.isFile) throw new UnsafeRuntimeDir(`${path} is not a regular file; remove it`);
  const uid = Deno.uid();
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    throw new UnsafeRuntimeDir(`${path} belongs to uid ${info.uid}, not to you (uid ${uid}); remove it`);
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new UnsafeRuntimeDir(`${path} has mode ${octal(info.mode)}; it must be 0600 (chmod 600 ${path})`);
  }
}

/** A file mode's permission bits as `chmod` takes them (`0755`). */
export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
