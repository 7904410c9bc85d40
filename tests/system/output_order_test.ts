/**
 * GHC's stdout and stderr in one file (`>log 2>&1`, a terminal, a Bazel response): plain ghc writes
 * `[i of n] Compiling M` to stdout and M's warnings to stderr in turn, and ghcpw must give the combined
 * stream in exactly that order, byte for byte, on the worker path and on the server's direct path. With
 * the two streams in different files, each must stay as ghc writes it. And a ghc run directly with one
 * stream gets exactly the environment plain ghc would (no shell in between to add PWD or reset IFS).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { clientCommand, GHC, run, startServer } from "../support/helpers.ts";
import { serveStandIn, twinTrees } from "../support/service.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { findGhcPkg, realExecutablePath } from "../../lib/ghc/installation.ts";
import { encodeRequest, readResponses, workRequest } from "../../lib/bazel/protocol.ts";
import { spawnBazelWorker } from "../../scripts/bench/bazel.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A chain of modules, each with warnings (printed between the `Compiling` lines of ghc --make). */
function warningChain(count: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= count; i++) {
    files[`M${i}.hs`] = `module M${i} where\n${i > 1 ? `import M${i - 1}\n` : ""}f${i} x = x\nu${i} = ${i}\n`;
  }
  // A splice printing to stdout between the warnings of the module before it and its own.
  files["Loud.hs"] = `{-# LANGUAGE TemplateHaskell #-}
module Loud where
import Language.Haskell.TH.Syntax (lift, runIO)
unused = 1
loud = $(runIO (putStrLn "splice: stdout" >> pure ()) >> lift (2 :: Int))
`;
  return files;
}

/** Runs a command with its stdout and stderr redirected by a shell (`redirect`, e.g. `>log 2>&1`). */
async function redirected(
  dir: string,
  redirect: string,
  command: string[],
  env: Record<string, string> = {},
): Promise<number> {
  return (await run("sh", ["-c", `exec "$@" ${redirect}`, "sh", ...command], { cwd: dir, env })).code;
}

const INVOCATIONS: [string, string[], Record<string, string>][] = [
  ["--make (worker)", ["--make", "-Wall", "-fno-code", "M12.hs"], {}],
  // GHCRTS makes it run on the real ghc, on the server's direct path.
  ["--make (direct)", ["--make", "-Wall", "-fno-code", "M12.hs"], { GHCRTS: "-A1m" }],
  ["-c with a splice printing (worker)", ["-c", "-Wall", "Loud.hs"], {}],
];

Deno.test("output in one file keeps ghc's order; in two files, each stays as ghc's", async (t) => {
  const server = await startServer(["-n", "1"]);
  try {
    for (const [name, args, env] of INVOCATIONS) {
      await t.step(`${name}: >log 2>&1`, async () => {
        const trees = await twinTrees(warningChain(12));
        const strict = { ...env, GHCPW_STRICT: "1" };
        const expected = await redirected(trees.cold, ">log 2>&1", [GHC, ...args], env);
        const actual = await redirected(trees.warm, ">log 2>&1", clientCommand(server.socket, args), strict);
        assertEquals(actual, expected);
        assertEquals(
          await Deno.readTextFile(`${trees.warm}/log`),
          await Deno.readTextFile(`${trees.cold}/log`),
        );
      });
      await t.step(`${name}: >out 2>err`, async () => {
        const trees = await twinTrees(warningChain(12));
        const strict = { ...env, GHCPW_STRICT: "1" };
        await redirected(trees.cold, ">out 2>err", [GHC, ...args], env);
        await redirected(trees.warm, ">out 2>err", clientCommand(server.socket, args), strict);
        for (const file of ["out", "err"]) {
          assertEquals(
            await Deno.readTextFile(`${trees.warm}/${file}`),
            await Deno.readTextFile(`${trees.cold}/${file}`),
          );
        }
      });
    }
    await t.step("a terminal: what it shows is ghc's, colours included", async () => {
      const trees = await twinTrees(warningChain(12));
      const args = ["--make", "-Wall", "-fno-code", "M12.hs"];
      // script(1) runs the command on a new pseudo-terminal and copies what it shows to its stdout.
      const onTerminal = (dir: string, command: string[]) =>
        run("script", ["-qec", command.map((a) => `'${a}'`).join(" "), "/dev/null"], {
          cwd: dir,
          env: { TERM: "xterm", GHCPW_STRICT: "1" },
        });
      const expected = await onTerminal(trees.cold, [GHC, ...args]);
      const actual = await onTerminal(trees.warm, clientCommand(server.socket, args));
      assert(expected.stdout.includes("\x1b["), "ghc printed no colours on a terminal");
      assertEquals(actual, expected);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("the Bazel worker's response holds ghc's output in ghc's order", async () => {
  const trees = await twinTrees(warningChain(12));
  const args = ["--make", "-Wall", "-fno-code", "M12.hs"];
  await redirected(trees.cold, ">log 2>&1", [GHC, ...args]);
  const child = spawnBazelWorker(MAIN, GHC, trees.warm, ["--protocol", "json"]);
  const stderr = new Response(child.stderr).text();
  try {
    const stdin = child.stdin.getWriter();
    await stdin.write(encodeRequest("json", workRequest({ arguments: args })));
    const { value: response } = await readResponses(child.stdout, "json").next();
    await stdin.close();
    assertEquals(response?.exitCode, 0, await stderr);
    assertEquals(response?.output, await Deno.readTextFile(`${trees.cold}/log`));
  } finally {
    await killAndWait(child);
    await stderr.catch(() => "");
  }
});

/** A query the server runs directly; the ghc of {@linkcode environmentPrintingGhc} answers it. */
const PRINT_ENVIRONMENT = "--print-ghcpw-test-environment";

/**
 * Writes a ghc into `dir` that prints the environment it was given, NUL-separated as the kernel holds
 * it, when asked {@linkcode PRINT_ENVIRONMENT}, and is the real ghc otherwise. Perl, not a shell script:
 * a shell would change the very environment it is to show.
 */
async function environmentPrintingGhc(dir: string): Promise<string> {
  const path = `${dir}/ghc`;
  const real = realExecutablePath(GHC);
  await Deno.writeTextFile(
    path,
    `#!/usr/bin/perl
if (@ARGV == 1 && $ARGV[0] eq "${PRINT_ENVIRONMENT}") {
  open(my $environ, "<", "/proc/self/environ") or die "$!";
  local $/;
  print <$environ>;
  exit 0;
}
exec { "${real}" } "${real}", @ARGV or die "${real}: $!";
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** The entries of an environment as the stand-in prints them, in order. */
function entries(printed: string): string[] {
  return printed.split("\0").filter((e) => e !== "").sort();
}

/** The entries of an environment given as a record, in order. */
function recordEntries(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).sort();
}

Deno.test("ghc run directly with one stream gets exactly the environment plain ghc would get", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-env-" });
  const ghc = await environmentPrintingGhc(dir);
  // No PWD and an IFS of its own: a shell between ghcpw and ghc would set both.
  const { PWD: _, ...inherited } = Deno.env.toObject();
  const env = { ...inherited, IFS: ":", GHCPW_STRICT: "1" };
  try {
    await t.step("the server's direct path, for a client whose stdout and stderr are one pipe", async () => {
      const socket = `${dir}/s.sock`;
      const server = await serveStandIn(socket, ghc);
      try {
        // Perl again, to give the client one pipe for both streams without a shell.
        const oneStream = 'open(STDERR, ">&STDOUT") or die "$!"; exec { $ARGV[0] } @ARGV or die "$!"';
        const r = await run("perl", ["-e", oneStream, ...clientCommand(socket, [PRINT_ENVIRONMENT], ghc)], {
          cwd: dir,
          env,
          clearEnv: true,
        });
        assertEquals(r.code, 0, r.stdout);
        assertEquals(entries(r.stdout), recordEntries(env));
      } finally {
        await killAndWait(server.child, { signal: "SIGTERM" });
        await server.result;
      }
    });
    await t.step("the Bazel worker (always one stream)", async () => {
      const ghcPkg = findGhcPkg(
        realExecutablePath(GHC),
        (await run(GHC, ["--numeric-version"])).stdout.trim(),
      );
      const child = spawnBazelWorker(MAIN, ghc, dir, ["--ghc-pkg", ghcPkg], { IFS: ":" });
      const stderr = new Response(child.stderr).text();
      try {
        const stdin = child.stdin.getWriter();
        await stdin.write(encodeRequest("json", workRequest({ arguments: [PRINT_ENVIRONMENT] })));
        const { value: response } = await readResponses(child.stdout, "json").next();
        await stdin.close();
        assertEquals(response?.exitCode, 0, await stderr);
        assertEquals(entries(response?.output ?? ""), recordEntries({ ...Deno.env.toObject(), IFS: ":" }));
      } finally {
        await killAndWait(child);
        await stderr.catch(() => "");
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
