/**
 * Reading directories for the incremental cache, where a missing directory is simply empty.
 *
 * @module
 */

/** The names in a directory; none if it does not exist or cannot be read. */
export async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return [];
  }
}
