/**
 * `@file` arguments as GHC 9.4 and later read them (base's GHC.ResponseFile): each `@path` is replaced by
 * the arguments in that file, split at unquoted white space, with `'…'`, `"…"` and `\` quoting. Not
 * recursive. ghcpw expands them itself so that older GHCs behave the same, except a file that is not
 * UTF-8: GHC decodes it in the locale's encoding and opens the files it names by their bytes, which
 * arguments Deno passes on as text cannot carry, so such an invocation is left to the real ghc.
 *
 * @module
 */

/** A response file could not be read; `message` is the text ghc prints for it. */
export class ResponseFileError extends Error {
  override name = "ResponseFileError";
}

// Haskell's isSpace: the ASCII white space, and Unicode space separators.
const isSpace = (c: string) => /[\t\n\v\f\r\p{Zs}]/u.test(c);

/** Splits a response file's text into arguments, removing one layer of quoting and escaping. */
export function unescapeArgs(text: string): string[] {
  const args: string[] = [];
  let current = "";
  let quote: "'" | '"' | null = null;
  let escaped = false;
  for (const c of text) {
    if (escaped) {
      current += c;
      escaped = false;
    } else if (c === "\\") {
      escaped = true;
    } else if (quote !== null) {
      if (c === quote) quote = null;
      else current += c;
    } else if (isSpace(c)) {
      args.push(current);
      current = "";
    } else if (c === "'" || c === '"') {
      quote = c;
    } else {
      current += c;
    }
  }
  args.push(current);
  return args.filter((a) => a !== "");
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Replaces every `@path` argument (relative to `cwd`) with the arguments the file holds; null if a file
 * is not UTF-8 (then only the real ghc, given `argv` as it is, reads it as plain ghc would).
 * Throws {@linkcode ResponseFileError} with ghc's message when a file cannot be read.
 */
export async function expandResponseFiles(argv: readonly string[], cwd: string): Promise<string[] | null> {
  const out: string[] = [];
  for (const arg of argv) {
    if (!arg.startsWith("@")) {
      out.push(arg);
      continue;
    }
    const path = arg.slice(1);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path.startsWith("/") ? path : `${cwd}/${path}`);
    } catch (e) {
      throw new ResponseFileError(`Error while expanding response file: ${path}: ${describeOpenError(e)}`);
    }
    let text: string;
    try {
      text = strictDecoder.decode(bytes);
    } catch {
      return null;
    }
    out.push(...unescapeArgs(text));
  }
  return out;
}

/** The wording of Haskell's `show` for an IOException from `openFile`. */
function describeOpenError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "openFile: does not exist (No such file or directory)";
  if (e instanceof Deno.errors.PermissionDenied) return "openFile: permission denied (Permission denied)";
  if (e instanceof Deno.errors.IsADirectory) return "openFile: inappropriate type (is a directory)";
  return `openFile: ${e instanceof Error ? e.message : String(e)}`;
}

/** Whether any argument names a response file. */
export function hasResponseFiles(argv: readonly string[]): boolean {
  return argv.some((a) => a.startsWith("@"));
}
