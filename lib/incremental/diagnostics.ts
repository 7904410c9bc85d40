/**
 * GHC's diagnostics on stderr, as an incremental build needs them: split into messages, each attributed
 * to the source its header names, so the warnings of a module GHC did not compile again can be replayed
 * from the last build that did. Pure.
 *
 * @module
 */

/** One diagnostic as GHC printed it. */
export interface Diagnostic {
  /** The file its header names, as GHC printed it. */
  file: string;
  severity: "warning" | "error";
  /** The whole message, header and body (GHC prints a blank line before each: {@linkcode replayText}). */
  text: string;
}

/** A diagnostic's first line: `FILE:LINE:COL[-COL]: warning|error` or `FILE:(L,C)-(L,C): ...`. */
const HEADER = /^(.+?):(?:\d+:\d+(?:-\d+)?|\(\d+,\d+\)-\(\d+,\d+\)): (warning|error)\b/;

/** GHC's progress line, which ends a diagnostic where stdout and stderr are one stream. */
const PROGRESS = /^\[\s*\d+ of \d+\] /;

/**
 * Splits GHC's stderr (or its one stream, where stdout and stderr are one file) into diagnostics. Text that
 * no header introduces (linker messages, `<no location info>` warnings, anything a splice printed, progress
 * lines) belongs to no module and is never saved or replayed.
 */
export function parseDiagnostics(stderr: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  let current: Diagnostic | null = null;
  for (const line of stderr.split(/(?<=\n)/)) {
    const header = HEADER.exec(line);
    if (PROGRESS.test(line)) {
      current = null;
    } else if (header !== null) {
      current = { file: header[1], severity: header[2] as "warning" | "error", text: line };
      found.push(current);
    } else if (current !== null && line.trim() !== "") {
      current.text += line;
    } else {
      current = null;
    }
  }
  return found;
}

/** The warnings GHC printed about `source`, in order. */
export function warningsOf(diagnostics: readonly Diagnostic[], source: string): string[] {
  return diagnostics.filter((d) => d.severity === "warning" && sameFile(d.file, source)).map((d) => d.text);
}

/** Whether GHC printed any diagnostic about `source`. */
export function mentions(diagnostics: readonly Diagnostic[], source: string): boolean {
  return diagnostics.some((d) => sameFile(d.file, source));
}

/** GHC prints a source's path as the command line gave it, sometimes without a leading `./`. */
function sameFile(printed: string, source: string): boolean {
  return printed.replace(/^\.\//, "") === source.replace(/^\.\//, "");
}

/** Saved messages as GHC prints them: each after a blank line. */
export function replayText(messages: readonly string[]): string {
  return messages.map((m) => `\n${m}`).join("");
}
