/**
 * Where a work request runs. A singleplex worker is sandboxed by Bazel itself (`--worker_sandboxing`
 * starts it in a directory of its own, which Bazel fills before each request), so it works in its own
 * working directory. A multiplex worker under multiplex sandboxing shares its process among requests,
 * so Bazel names each request's sandbox in `sandbox_dir`, relative to the worker's working directory:
 * the request's arguments, its response files and the outputs it writes are all relative to that
 * directory, and the worker must resolve them there.
 *
 * @module
 */

/** A request names a sandbox that is not a directory the worker can work in. */
export class SandboxError extends Error {
  override name = "SandboxError";
}

/**
 * The directory a request's paths are relative to: the worker's own (`workerCwd`) without a sandbox,
 * else the sandbox, taken as given when absolute (Bazel sends relative ones; an absolute one is as
 * unambiguous) and relative to `workerCwd` otherwise.
 */
export function requestDirectory(workerCwd: string, sandboxDir: string): string {
  if (sandboxDir === "") return workerCwd;
  if (sandboxDir.startsWith("/")) return sandboxDir;
  return `${workerCwd}/${sandboxDir}`;
}

/**
 * Throws {@linkcode SandboxError} unless `dir` (a request's sandbox) is an existing directory: ghc would
 * otherwise fail with an error about its working directory that names neither the request nor Bazel.
 */
export async function checkSandbox(dir: string, sandboxDir: string): Promise<void> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(dir);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "does not exist" : e instanceof Error ? e.message : e;
    throw new SandboxError(`the request's sandbox directory ${JSON.stringify(sandboxDir)} (${dir}) ${why}`);
  }
  if (!stat.isDirectory) {
    throw new SandboxError(
      `the request's sandbox directory ${JSON.stringify(sandboxDir)} (${dir}) is not a directory`,
    );
  }
}
