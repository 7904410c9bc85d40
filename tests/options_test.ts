import { parseArgs } from "node:util";
import { assertEquals } from "./assert.ts";
import {
  byteSize,
  type OptionSpec,
  parseOptions,
  positiveInteger,
  UsageError,
} from "../lib/commands/options.ts";

// The options of `ghcpw bazel`, which has every kind: string, boolean, short, repeated.
const OPTIONS = {
  ghc: { type: "string" },
  jobs: { type: "string", short: "n" },
  "package-db": { type: "string", multiple: true },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  persistent_worker: { type: "boolean" },
} as const satisfies Record<string, OptionSpec>;

const COMMAND_LINES: string[][] = [
  [],
  ["--ghc", "/usr/bin/ghc"],
  ["--ghc=/usr/bin/ghc", "--ghc", "ghc-9.6"],
  ["--ghc="],
  ["--ghc", "-"],
  ["--ghc", "-O"],
  ["--ghc=-O"],
  ["--ghc"],
  ["-n", "3"],
  ["-n3"],
  ["-n", "-3"],
  ["-n-3"],
  ["-n"],
  ["--jobs", "--help"],
  ["-vq"],
  ["-vqn4"],
  ["-vqn", "4"],
  ["-vn"],
  ["-vx"],
  ["-x"],
  ["--unknown"],
  ["--unknown=1"],
  ["--help=yes"],
  ["-h", "--verbose", "--quiet"],
  ["--package-db", "a", "--package-db=b", "--package-db", "c"],
  ["--persistent_worker"],
  ["--__proto__"],
  ["--constructor"],
  ["---x"],
  ["@flags"],
  ["-"],
  [""],
  ["--", "-c", "M.hs"],
  ["-v", "--", "--unknown"],
  ["--ghc", "ghc", "@a", "@b", "-v"],
];

/** What node:util's strict parseArgs makes of a command line: the result, or its error message. */
function nodeParse(args: string[], allowPositionals: boolean) {
  try {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals, strict: true });
    return { values: { ...values }, positionals };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function ourParse(args: string[], allowPositionals: boolean) {
  try {
    const { values, positionals } = parseOptions("bazel", args, OPTIONS, allowPositionals);
    return { values: { ...values }, positionals };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const [first, ...rest] = e.message.split("\n");
    assertEquals(first.startsWith("ghcpw bazel: "), true);
    assertEquals(rest.at(-1), "Run 'ghcpw bazel --help' for the options.");
    return { error: [first.slice("ghcpw bazel: ".length), ...rest.slice(0, -1)].join("\n") };
  }
}

Deno.test("parseOptions accepts and refuses exactly what node:util's strict parseArgs does, with its words", () => {
  for (const allowPositionals of [false, true]) {
    for (const args of COMMAND_LINES) {
      assertEquals(ourParse(args, allowPositionals), nodeParse(args, allowPositionals), JSON.stringify(args));
    }
  }
});

Deno.test("positiveInteger names the option it refuses", () => {
  assertEquals(positiveInteger("serve", "--jobs", "4"), 4);
  for (const bad of ["0", "-1", "1.5", "x", ""]) {
    let message = "";
    try {
      positiveInteger("serve", "--jobs", bad);
    } catch (e) {
      message = (e as Error).message;
    }
    assertEquals(message, `ghcpw serve: --jobs needs a positive whole number, got ${JSON.stringify(bad)}`);
  }
});

Deno.test("byteSize takes bytes or a unit in powers of 1024, and names the option it refuses", () => {
  const sizes: [string, number][] = [
    ["1048576", 1048576],
    ["512M", 512 * 1024 ** 2],
    ["512m", 512 * 1024 ** 2],
    ["2G", 2 * 1024 ** 3],
    ["2GiB", 2 * 1024 ** 3],
    ["1.5G", 1.5 * 1024 ** 3],
    ["64K", 65536],
    ["1T", 1024 ** 4],
    ["100B", 100],
  ];
  for (const [text, bytes] of sizes) assertEquals(byteSize("serve", "--max-rss", text), bytes, text);
  for (const bad of ["", "0", "0M", "lots", "2X", "-1G", "2 G B", "G", "1e9"]) {
    let message = "";
    try {
      byteSize("serve", "--max-rss", bad);
    } catch (e) {
      message = (e as Error).message;
    }
    assertEquals(
      message,
      `ghcpw serve: --max-rss needs a size in bytes or with a unit, such as 512M or 2G; got ${
        JSON.stringify(bad)
      }`,
    );
  }
});
