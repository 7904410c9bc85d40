/**
 * Bazel's flagfiles, read the way Bazel reads them for a persistent worker: an `@path` argument (path
 * relative to the execroot) stands for the lines of that file, one argument per line, with no quoting,
 * expanded again if a line is itself an `@path`. `@@…` and external labels (`@repo//…`) are kept as
 * they are. Running one-shot, ghcpw expands them the same way, so both modes compile the same argv.
 *
 * @module
 */

/** Whether Bazel would treat an argument as a flagfile (and leave it out of a worker's startup args). */
export function isFlagfileArgument(arg: string): boolean {
  return /^(?:@|--?flagfile=)./.test(arg);
}

function expandsAsFlagfile(arg: string): boolean {
  return arg.startsWith("@") && !arg.startsWith("@@") && !/^@.*\/\//.test(arg);
}

/** Replaces each `@path` argument with the lines of the file, recursively, as Bazel does for a worker. */
export async function expandFlagfiles(args: readonly string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    if (!expandsAsFlagfile(arg)) {
      out.push(arg);
      continue;
    }
    const path = arg.slice(1);
    const text = await Deno.readTextFile(path.startsWith("/") ? path : `${cwd}/${path}`);
    // Java's readAllLines: \n, \r\n or \r end a line; a final line ending adds no empty argument.
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.at(-1) === "") lines.pop();
    out.push(...await expandFlagfiles(lines, cwd));
  }
  return out;
}
