/**
 * A ghc killed by a signal: `ghcpw ghc` exits with the code a shell reports for plain ghc (128 + the
 * signal's number), through the client's fallback and through the server's direct path, for signals Deno
 * names and for real-time signals it cannot name.
 */

import { assertEquals } from "../support/assert.ts";
import { GHC, ghcpwCli, run } from "../support/helpers.ts";
import { serveStandIn, statusOf } from "../support/service.ts";
import { exitCodeOf, settledStatus } from "../../lib/process/exit_status.ts";
import { realExecutablePath } from "../../lib/ghc/installation.ts";

/** Signals whose default action ends a process, by the names `kill` takes (40: a real-time signal). */
const FATAL = ["ABRT", "BUS", "FPE", "ILL", "PIPE", "SEGV", "TERM", "USR1", "40"];

/** The exit code a shell reports for `command args...`. */
async function shellCode(command: string, args: string[]): Promise<number> {
  const r = await run("sh", ["-c", '"$0" "$@" >/dev/null 2>&1; echo $?', command, ...args]);
  return Number(r.stdout.trim());
}

/** A "ghc" that is the real one, except that `-e ghcpw-test-die-SIG` makes it kill itself with SIG. */
async function dyingGhc(dir: string): Promise<string> {
  const path = `${dir}/ghc`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
case "$*" in *ghcpw-test-die-*) kill -"\${*##*ghcpw-test-die-}" $$;; esac
exec ${realExecutablePath(GHC)} "$@"
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("every signal that ends a child maps to the code the shell reports", async () => {
  for (let n = 1; n <= 64; n++) {
    // SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU stop a process instead of ending it.
    if (n >= 19 && n <= 22) continue;
    const expected = await shellCode("sh", ["-c", `kill -${n} $$`]);
    // 0: the signal's default is to be ignored (SIGCHLD, SIGWINCH ...); 1: one sh cannot send.
    if (expected < 128) continue;
    const status = await settledStatus(
      new Deno.Command("sh", { args: ["-c", `kill -${n} $$`], stdout: "null", stderr: "null" }).spawn()
        .status,
    );
    assertEquals([n, exitCodeOf(status)], [n, expected]);
  }
});

Deno.test("a ghc killed by a signal: ghcpw exits as the shell would, via the fallback and the server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpw-sig-" });
  const ghc = await dyingGhc(dir);
  const socket = `${dir}/s.sock`;
  const client = (signal: string, env: Record<string, string> = {}) =>
    ghcpwCli(["ghc", "--socket", socket, "--ghc", ghc, "--", "-e", `ghcpw-test-die-${signal}`], {
      cwd: dir,
      env,
    });
  try {
    for (const signal of FATAL) {
      const expected = await shellCode(ghc, ["-e", `ghcpw-test-die-${signal}`]);
      assertEquals(expected >= 128, true, `kill -${signal} did not end the fake ghc`);
      // No server on the socket: the client runs ghc itself.
      assertEquals([signal, (await client(signal)).code], [signal, expected]);
    }
    const server = await serveStandIn(socket, ghc);
    try {
      for (const signal of FATAL) {
        const expected = await shellCode(ghc, ["-e", `ghcpw-test-die-${signal}`]);
        // Strict: a fallback would hide what the server answered.
        const r = await client(signal, { GHCPW_STRICT: "1" });
        assertEquals([signal, r.code, r.stderr], [signal, expected, ""]);
      }
      // deno-lint-ignore no-explicit-any
      const status = await statusOf(socket) as any;
      assertEquals(status.totals.fallbacks, FATAL.length);
    } finally {
      await ghcpwCli(["stop", "--socket", socket]);
      await server.result;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
