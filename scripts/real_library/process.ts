/**
 * Running the commands that fetch and inspect a real library (apt, dpkg, ghc): progress on stderr, since
 * apt can take a minute and stdout carries the results, and one error type for every failure.
 *
 * @module
 */

/** Prints a progress line on stderr (stdout is kept for results). */
export function progress(message: string): void {
  console.error(`real-library: ${message}`);
}

/** A command failed; the message says which and why. */
export class RealLibraryError extends Error {
  override name = "RealLibraryError";
}

/**
 * Runs a command, streaming its stdout and stderr to our stderr (apt's progress), and returns its exit code
 * and everything it printed (to recognise known failures).
 */
export async function runStreamed(
  cmd: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; output: string }> {
  progress(`$ ${cmd} ${args.join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).spawn();
  } catch (e) {
    throw new RealLibraryError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
  }
  const decoder = new TextDecoder();
  let output = "";
  // Both streams go to stderr so that stdout carries only the result.
  const forward = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await Deno.stderr.write(chunk);
    }
  };
  const [status] = await Promise.all([child.status, forward(child.stdout), forward(child.stderr)]);
  return { code: status.code, output };
}

/** Like {@linkcode runStreamed}, and throws if the command fails. */
export async function runShown(cmd: string, args: string[], options: { cwd?: string } = {}): Promise<void> {
  const { code } = await runStreamed(cmd, args, options);
  if (code !== 0) throw new RealLibraryError(`${cmd} ${args.join(" ")} failed with exit code ${code}`);
}

/** Runs a command quietly and returns its exit code and stdout. */
export async function runQuiet(
  cmd: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, cwd: options.cwd, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
