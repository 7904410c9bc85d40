/**
 * Exclusive locks between processes, on a lock file (flock). The kernel drops a lock when its holder
 * exits, however it exits, so a killed process can never leave a lock behind: what sccache-style
 * start-up races need.
 *
 * @module
 */

/** Runs `fn` while holding an exclusive lock on `path` (created 0600 if missing); waits for the lock. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const file = await Deno.open(path, { create: true, write: true, mode: 0o600 });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    // Closing the file releases the lock.
    file.close();
  }
}
