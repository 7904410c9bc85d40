/**
 * `ghcpw ghc` parses its usual command lines without node:util (lib/commands/simple_options.ts): every
 * line it parses must give exactly what node's parseArgs gives, and it must leave to parseArgs every line
 * parseArgs refuses, so that those keep node's error messages.
 */

import { parseArgs } from "node:util";
import { assertEquals, assertRejects } from "../support/assert.ts";
import { ghcCommand } from "../../lib/commands/ghc.ts";
import { simpleOptions } from "../../lib/commands/simple_options.ts";
import { SELECT_OPTIONS } from "../../lib/commands/select_options.ts";
import { UsageError } from "../../lib/commands/usage_error.ts";

const OPTIONS = { ...SELECT_OPTIONS, help: { type: "boolean", short: "h" } } as const;

/** parseArgs' values as a plain object, or null where it throws. */
function nodeValues(args: string[]): Record<string, unknown> | null {
  try {
    return { ...parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true }).values };
  } catch {
    return null;
  }
}

const PARSED = [
  [],
  ["--socket", "/tmp/s.sock"],
  ["--socket=/tmp/s.sock", "--ghc", "/usr/bin/ghc"],
  ["--socket=", "--ghc=ghc-9.6"],
  ["--socket=a=b"],
  ["--package-db", "a", "--package-db=b", "--package-db", "c"],
  ["--share", "none", "--share", "databases"],
  ["--ghc", "ghc", "--socket", "s", "--ghc", "other"],
  ["-h"],
  ["--help", "--socket", "s"],
  ["--help", "--help"],
];

const LEFT_TO_NODE = [
  ["--socket"],
  ["--socket", "--ghc", "g"],
  ["--socket", "-x"],
  ["--socket", "-"],
  ["--nope"],
  ["--nope=1"],
  ["-x"],
  ["-hh"],
  ["-"],
  ["--"],
  ["file.hs"],
  ["--socket", "s", "file.hs"],
  ["--help=yes"],
  ["--HELP"],
  ["--__proto__", "x"],
  ["--constructor", "x"],
];

Deno.test("the simple parser gives parseArgs' values for ghcpw ghc's usual command lines", () => {
  for (const args of PARSED) {
    const values = simpleOptions(args, OPTIONS);
    assertEquals(values === null ? null : { ...values }, nodeValues(args), args.join(" "));
  }
});

Deno.test("the simple parser leaves to parseArgs what it is unsure of, which includes what parseArgs refuses", () => {
  for (const args of LEFT_TO_NODE) {
    assertEquals(simpleOptions(args, OPTIONS), null, args.join(" "));
  }
  for (const args of [...PARSED, ...LEFT_TO_NODE]) {
    if (nodeValues(args) === null) assertEquals(simpleOptions(args, OPTIONS), null, args.join(" "));
  }
});

Deno.test("ghcpw ghc refuses what parseArgs refuses, in parseArgs' words", async () => {
  for (
    const [args, message] of [[["--nope"], /^ghcpw ghc: Unknown option '--nope'/], [
      ["--socket"],
      /--socket/,
    ]] as const
  ) {
    await assertRejects(
      () => ghcCommand([...args, "--", "-c", "A.hs"]),
      (e: unknown) =>
        e instanceof UsageError && message.test(e.message) && e.message.endsWith("for the options."),
    );
  }
});
