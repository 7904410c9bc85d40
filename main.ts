/**
 * ghcpw: a persistent compile server for GHC. One program: `ghcpw serve` is the server, `ghcpw ghc` the
 * drop-in client. This file only dispatches to the subcommands in lib/commands/.
 *
 * @module
 */

import { ghcCommand } from "./lib/commands/ghc.ts";
import { UsageError } from "./lib/commands/options.ts";
import { serveCommand } from "./lib/commands/serve.ts";
import { VERSION } from "./lib/version.ts";

export const MAIN_HELP = `ghcpw ${VERSION}: a persistent worker (compile server) for GHC

Keeps GHC processes warm so each compile pays only for its own module, not for
GHC's start-up and loading of package interfaces.

Usage:
  ghcpw serve [OPTIONS]             run the server (see 'ghcpw serve --help')
  ghcpw ghc [OPTIONS] -- GHC-ARGS   compile like ghc, through the server
                                    (see 'ghcpw ghc --help')
  ghcpw --version                   print ghcpw's version
  ghcpw --help                      show this help

Typical use: start 'ghcpw serve --ghc $(which ghc)', then set your build's
compiler to 'ghcpw ghc --' (Buck2: the compiler of the Haskell toolchain).
`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  ghc: ghcCommand,
};

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-V") {
    console.log(`ghcpw ${VERSION}`);
    return 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    throw new UsageError(
      `ghcpw: unknown command ${JSON.stringify(command)}\nRun 'ghcpw --help' for the commands.`,
    );
  }
  return await run(rest);
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    console.error(e instanceof UsageError ? e.message : `ghcpw: ${e instanceof Error ? e.message : e}`);
    code = e instanceof UsageError ? 2 : 1;
  }
  Deno.exit(code);
}
