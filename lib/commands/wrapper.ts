/**
 * `ghcpw wrapper DIR`: writes an executable named `ghc` that runs `ghcpw ghc` on its arguments, and a
 * `ghc-pkg` link beside it. Build tools that take one compiler executable (cabal's `-w`, Cabal's
 * `--with-compiler`, Buck2's toolchain `compiler`) can then use ghcpw; cabal finds the `ghc-pkg` beside
 * the compiler it is given, so it needs nothing else.
 *
 * @module
 */

import { selfCommand } from "../client/autostart.ts";
import { chooseGhc, findGhc, findGhcPkg, runTool } from "../ghc/installation.ts";
import { parseOptions } from "./options.ts";
import { UsageError } from "./usage_error.ts";
import { SELECT_OPTIONS } from "./select_options.ts";

export const WRAPPER_HELP = `ghcpw wrapper: write a 'ghc' that compiles through ghcpw

Usage: ghcpw wrapper [--ghc PATH] [--socket PATH] [--package-db PATH]... DIR

Writes DIR/ghc, a shell script that runs 'ghcpw ghc' with these options on the
arguments it is given, and DIR/ghc-pkg, a symbolic link to that ghc's ghc-pkg
(the tools check that the two belong together). DIR is created if missing;
files a previous 'ghcpw wrapper' wrote there are replaced, anything else is
left alone. Then:

  cabal build -w DIR/ghc
  runhaskell Setup.hs configure --with-compiler=DIR/ghc && runhaskell Setup.hs build
  Buck2: haskell_toolchain(compiler = "DIR/ghc", ...)

The script names the real ghc by its full path. Keep DIR off PATH, or set
GHCPW_GHC: ghcpw itself takes the first ghc on PATH for the real one.

Options:
  --ghc PATH          the real ghc (default: $GHCPW_GHC, else ghc on PATH)
  --socket PATH       the server's socket, as for 'ghcpw ghc' (default: the
                      server for this ghc, started when needed)
  --package-db PATH   as for 'ghcpw ghc' (repeatable)
  -h, --help          show this help
`;

/** The line that marks a script as this command's, so that running it again may replace it. */
const MARKER = "# Written by 'ghcpw wrapper'";

/** Quotes a word for sh: single quotes, with each single quote written as '\''. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Whether the file at `path` is a script this command wrote (read from its start only: ghc may be a binary). */
async function isWrapper(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return false;
  }
  try {
    const head = new Uint8Array(256);
    const n = await file.read(head) ?? 0;
    return new TextDecoder().decode(head.subarray(0, n)).split("\n")[1] === MARKER;
  } finally {
    file.close();
  }
}

/** Whether `path` may be (re)written: absent, or what this command wrote there (the script, the link). */
async function replaceable(path: string, isLink: boolean): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
  return isLink ? info.isSymlink : info.isFile && await isWrapper(path);
}

/** Runs the subcommand; resolves to the exit code. */
export async function wrapperCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions("wrapper", args, {
    ...SELECT_OPTIONS,
    help: { type: "boolean", short: "h" },
  }, true);
  if (values.help) {
    console.log(WRAPPER_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      "ghcpw wrapper: give one directory to write ghc and ghc-pkg in\n" +
        "Run 'ghcpw wrapper --help' for usage.",
    );
  }
  const absolute = (path: string) => path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const dir = absolute(positionals[0]).replace(/(.)\/+$/, "$1");
  const ghc = absolute(findGhc(chooseGhc(values.ghc)));
  const script = `${dir}/ghc`;
  // A wrapper taken for the real ghc would hand every compile back to ghcpw.
  if (await isWrapper(ghc)) {
    throw new UsageError(`ghcpw wrapper: ${ghc} is itself a ghcpw wrapper; name the real ghc with --ghc`);
  }
  const version = (await runTool(ghc, ["--numeric-version"])).trim();
  const ghcPkg = absolute(findGhcPkg(ghc, version));
  const link = `${dir}/ghc-pkg`;
  for (const [path, isLink] of [[script, false], [link, true]] as const) {
    if (!await replaceable(path, isLink)) {
      throw new UsageError(
        `ghcpw wrapper: ${path} exists and was not written by 'ghcpw wrapper'; not replacing it`,
      );
    }
  }

  const ghcpwArgs = [
    "ghc",
    "--ghc",
    ghc,
    ...(values.socket === undefined ? [] : ["--socket", absolute(values.socket)]),
    ...(values["package-db"] ?? []).flatMap((db) => ["--package-db", absolute(db)]),
    "--",
  ];
  const text = [
    "#!/bin/sh",
    MARKER,
    `# ghc ${version} (${ghc}) through ghcpw: each invocation goes to ghcpw's server, or runs that ghc.`,
    `exec ${[...selfCommand(), ...ghcpwArgs].map(shellQuote).join(" ")} "$@"`,
    "",
  ].join("\n");
  await Deno.mkdir(dir, { recursive: true });
  // Written beside and renamed, so a build running the old script never reads half of the new one.
  const temporary = `${script}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, text, { mode: 0o755 });
  await Deno.chmod(temporary, 0o755);
  await Deno.rename(temporary, script);
  await Deno.remove(link).catch(() => {});
  await Deno.symlink(ghcPkg, link);
  console.log(`Wrote ${script} (ghc ${version} through ghcpw) and ${link} (-> ${ghcPkg}). Use it as:`);
  console.log(`  cabal build -w ${script}`);
  console.log(`  runhaskell Setup.hs configure --with-compiler=${script}`);
  return 0;
}
