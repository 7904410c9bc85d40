/**
 * What a module's source says about itself before its first declaration: its name (from the `module`
 * header; `Main` without one) and whether it may run Template Haskell. Pure.
 *
 * @module
 */

/** What an incremental build reads from a source. */
export interface ModuleHeader {
  /** The module's name, or null where it cannot be read safely (CPP before the header, literate source). */
  name: string | null;
  /**
   * Whether the source mentions TemplateHaskell or QuasiQuotes anywhere. Such a module may read files,
   * the environment or anything else a splice reaches, which nothing records, so its outputs are never
   * restored (see README, "Incremental builds").
   */
  usesSplices: boolean;
}

const SPLICES = /\b(TemplateHaskell|TemplateHaskellQuotes|QuasiQuotes)\b/;

/** Reads the header of a Haskell source (`.hs`; a literate source gives no name). */
export function readModuleHeader(text: string, literate = false): ModuleHeader {
  const usesSplices = SPLICES.test(text);
  if (literate) return { name: null, usesSplices };
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
      if (end < 0) return { name: null, usesSplices };
      i = end;
    } else if (c === "#" && (i === 0 || text[i - 1] === "\n")) {
      // A preprocessor line before the header may choose the module's name.
      return { name: null, usesSplices };
    } else {
      break;
    }
  }
  const header = /^module\s+([A-Z][\w']*(?:\.[A-Z][\w']*)*)(?=[\s(]|where|$)/.exec(text.slice(i));
  if (header !== null) return { name: header[1], usesSplices };
  // A word that merely starts with "module" is not a header, and a source without one is Main.
  return { name: /^module\b/.test(text.slice(i)) ? null : "Main", usesSplices };
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
