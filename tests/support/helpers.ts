/**
 * Test helpers: a real ghcpw server in a child process, the real client, and plain ghc as the oracle.
 * The GHC under test is $GHCPW_TEST_GHC (default: ghc on PATH), so every suite can run against any GHC.
 *
 * @module
 */

import { assertEquals } from "./assert.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { listFiles, outputMismatch as compareOutput } from "../../scripts/output_compare.ts";

export { listFiles };

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = `${ROOT}/main.ts`;

/** The ghc the suites test against. */
export const GHC = Deno.env.get("GHCPW_TEST_GHC") || "ghc";

/** The result of running a command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/** Runs a command to completion with the given cwd and environment additions. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "null",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Plain ghc: the oracle. */
export function ghc(args: string[], cwd: string, env?: Record<string, string>): Promise<Run> {
  return run(GHC, args, { cwd, env });
}

/** The command line of the ghcpw client: `ghcpw ghc --socket S --ghc GHC -- args`. */
export function clientCommand(socket: string, args: string[], ghc = GHC): string[] {
  return ["deno", "run", "-A", MAIN, "ghc", "--socket", socket, "--ghc", ghc, "--", ...args];
}

/** The ghcpw client ({@linkcode clientCommand}), strict so a fallback cannot hide a bug. */
export function ghcpw(
  socket: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Run> {
  const [cmd, ...rest] = clientCommand(socket, args);
  return run(cmd, rest, { cwd, env: { GHCPW_STRICT: "1", ...env } });
}

/** Runs ghcpw's CLI itself (any subcommand). */
export function ghcpwCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return run("deno", ["run", "-A", MAIN, ...args], options);
}

/** A running server started for a test suite. */
export interface TestServer {
  socket: string;
  dir: string;
  /** What the server has logged so far (it runs with -v). */
  log(): string;
  /** Stops the server; resolves to its whole log. */
  stop(): Promise<string>;
}

/**
 * Starts `ghcpw serve` on a fresh socket (`env` added to its environment) and waits until it answers.
 * The server and the clients of {@linkcode ghcpw} inherit `$GHCPW_SHARE`, so a suite run with it set
 * runs with that share setting throughout (server and clients agree on the server key).
 */
export async function startServer(
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-test-" });
  const socket = `${dir}/ghcpw.sock`;
  const child = new Deno.Command("deno", {
    args: ["run", "-A", MAIN, "serve", "--socket", socket, "--ghc", GHC, "-n", "2", "-v", ...extraArgs],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const logDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log.push(chunk);
  })();
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      (await Deno.connect({ transport: "unix", path: socket })).close();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`server did not start:\n${log.join("")}`);
      const status = await Promise.race([child.status, new Promise((r) => setTimeout(r, 100, null))]);
      if (status !== null) throw new Error(`server exited:\n${log.join("")}`);
    }
  }
  return {
    socket,
    dir,
    log: () => log.join(""),
    async stop() {
      await killAndWait(child, { signal: "SIGTERM" });
      await logDone;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return log.join("");
    },
  };
}

/** Writes a tree of files (path → content) under `dir`. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
}

/** Asserts that two trees hold the same files and that the named kinds are byte-identical. */
export async function assertSameOutputs(
  cold: string,
  warm: string,
  identicalSuffixes: string[],
): Promise<void> {
  const coldFiles = await listFiles(cold);
  assertEquals(await listFiles(warm), coldFiles, "ghcpw and ghc produced different sets of files");
  for (const file of coldFiles) {
    if (!identicalSuffixes.some((s) => file.endsWith(s))) continue;
    const mismatch = await outputMismatch(cold, warm, file);
    assertEquals(mismatch, null, mismatch ?? "");
  }
}

/** Why a file of ghcpw's tree differs from the same file of ghc's, or null (scripts/output_compare.ts). */
export function outputMismatch(cold: string, warm: string, file: string): Promise<string | null> {
  return compareOutput(GHC, cold, warm, file);
}

/** Asserts that ghcpw's result equals ghc's: exit code, stdout and stderr (after `normalise`). */
export function assertSameRun(actual: Run, expected: Run, normalise: (s: string) => string = (s) => s): void {
  assertEquals(
    { code: actual.code, stdout: normalise(actual.stdout), stderr: normalise(actual.stderr) },
    { code: expected.code, stdout: normalise(expected.stdout), stderr: normalise(expected.stderr) },
  );
}

/** The token a client of the suites' servers presents (the servers share the user's runtime directory). */
export async function testToken(): Promise<string> {
  const { ensureRuntimeDir } = await import("../../lib/address/runtime_dir.ts");
  const { ensureToken } = await import("../../lib/address/token.ts");
  return await ensureToken(await ensureRuntimeDir());
}

/** A server's `ghcpw status --json`, read over its socket (as the status command does). */
export async function serverStatus(socket: string): Promise<Record<string, unknown>> {
  const { sendControl } = await import("../../lib/client/control.ts");
  return await sendControl(socket, "status", await testToken());
}
