/**
 * ghcpw: a persistent compile server for GHC. One program: `ghcpw serve` is the server, `ghcpw ghc` the
 * drop-in client. This file only dispatches to the subcommands in lib/commands/.
 *
 * @module
 */

import { UsageError } from "./lib/commands/usage_error.ts";
import { VERSION } from "./lib/version.ts";

export const MAIN_HELP = `ghcpw ${VERSION}: a persistent worker (compile server) for GHC

Keeps GHC processes warm so each compile pays only for its own module, not for
GHC's start-up and loading of package interfaces.

Usage:
  ghcpw serve [OPTIONS]             run the server (see 'ghcpw serve --help')
  ghcpw ghc [OPTIONS] -- GHC-ARGS   compile like ghc, through the server,
                                    starting one if needed (see 'ghcpw ghc --help')
  ghcpw status [--json]             show the running servers (see 'ghcpw status --help')
  ghcpw stop                        stop the running servers (see 'ghcpw stop --help')
  ghcpw bazel [OPTIONS] --persistent_worker
                                    be a Bazel persistent worker for ghc
                                    (see 'ghcpw bazel --help')
  ghcpw wrapper DIR                 write DIR/ghc, a ghc that compiles through
                                    ghcpw, for cabal's -w and Buck2's compiler
                                    (see 'ghcpw wrapper --help')
  ghcpw buck2 [OPTIONS]             be a Buck2 persistent worker (WorkerInfo) for
                                    ghc, on $WORKER_SOCKET, compiling through the
                                    server (see 'ghcpw buck2 --help')
  ghcpw --version                   print ghcpw's version
  ghcpw --help                      show this help

Typical use: set your build's compiler to 'ghcpw ghc --' (Buck2: the compiler
of the Haskell toolchain, or 'ghcpw buck2' as the worker of rules that declare
one); the first compile starts a server for that ghc in the background, and it
exits after an hour without compiles.
`;

type Command = (args: string[]) => Promise<number>;

/**
 * A subcommand's module. Loaded on demand: `ghcpw ghc` runs once per module, and should not pay for loading
 * the server or the Bazel and Buck2 workers (tens of milliseconds each). The specifier is computed, not
 * a literal, because `deno run` reads every module a literal dynamic import can reach (the server's,
 * the workers', their npm packages) before it runs anything: ~5 ms of every `ghcpw ghc` (measured with
 * `ghcpw ghc --help --`: median 36.5 against 30.6 ms). So `deno compile` must be told to include them
 * (deno.json's compile task), and `deno check` to check them (its check task names lib/).
 */
function command(name: string): string {
  return new URL(`./lib/commands/${name}.ts`, import.meta.url).href;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import(command("serve"))).serveCommand,
  ghc: async () => (await import(command("ghc"))).ghcCommand,
  status: async () => (await import(command("status"))).statusCommand,
  stop: async () => (await import(command("stop"))).stopCommand,
  bazel: async () => (await import(command("bazel"))).bazelCommand,
  wrapper: async () => (await import(command("wrapper"))).wrapperCommand,
  buck2: async () => (await import(command("buck2"))).buck2Command,
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
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) {
    throw new UsageError(
      `ghcpw: unknown command ${JSON.stringify(command)}\nRun 'ghcpw --help' for the commands.`,
    );
  }
  return await (await load())(rest);
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
