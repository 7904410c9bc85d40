/**
 * What a module's source says about itself before its first declaration: its name (from the `module`
 * header; `Main` without one) and whether its pragmas run a program or plugin of the user's. Pure.
 *
 * @module
 */

/** What an incremental build reads from a source. */
export interface ModuleHeader {
  /** The module's name, or null where it cannot be read safely (CPP before the header, literate source). */
  name: string | null;
  /**
   * Whether an `OPTIONS_GHC` (or `OPTIONS`) pragma anywhere in it names a compiler plugin (`-fplugin`),
   * a source preprocessor (`-F`) or another program to run (`-pgm...`): code of the user's that may read
   * files or anything else nothing records, so the module's outputs are never restored (see README,
   * "Incremental builds"). Splices, quasi-quotes and annotations are judged by what the compile that
   * made the outputs ran, not here.
   */
  pragmaRunsCode: boolean;
}

/** Options pragmas (their names, like every pragma's, in any case) and what they hold. */
const OPTIONS_PRAGMA = /\{-#\s*options(?:_ghc)?\s((?:(?!#-\})[\s\S])*)/gi;

/** Such a flag, as a word of its own (`-Fxyz` is not `-F`). */
const RUNS_CODE = /(?<![\w-])(?:-fplugin|-pgm|-F(?![\w-]))/;

/** Reads the header of a Haskell source (`.hs`; a literate source gives no name). */
export function readModuleHeader(text: string, literate = false): ModuleHeader {
  const pragmaRunsCode = [...text.matchAll(OPTIONS_PRAGMA)].some((m) => RUNS_CODE.test(m[1]));
  if (literate) return { name: null, pragmaRunsCode };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (text.startsWith("--", i) && /^--+([^!#$%&*+./<=>?@\\^|~:]|$)/m.test(text.slice(i, i + 80))) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end + 1;
    } else if (text.startsWith("{-", i)) {
      const end = blockCommentEnd(text, i);
      if (end < 0) return { name: null, pragmaRunsCode };
      i = end;
    } else if (c === "#" && (i === 0 || text[i - 1] === "\n")) {
      // A preprocessor line before the header may choose the module's name.
      return { name: null, pragmaRunsCode };
    } else {
      break;
    }
  }
  const header = /^module\s+([A-Z][\w']*(?:\.[A-Z][\w']*)*)(?=[\s(]|where|$)/.exec(text.slice(i));
  if (header !== null) return { name: header[1], pragmaRunsCode };
  // A word that merely starts with "module" is not a header, and a source without one is Main.
  return { name: /^module\b/.test(text.slice(i)) ? null : "Main", pragmaRunsCode };
}

/** Where the (nested) block comment starting at `start` ends, or -1 if it never does. */
function blockCommentEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length - 1; i++) {
    if (text[i] === "{" && text[i + 1] === "-") {
      depth++;
      i++;
    } else if (text[i] === "-" && text[i + 1] === "}") {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
