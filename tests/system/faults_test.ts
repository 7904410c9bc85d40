/**
 * Fault injection with real processes and real signals: a GHC worker killed mid-request, a client killed
 * mid-request, the server killed mid-request (its worker must not outlive it), a request over the timeout,
 * an unwritable output directory and a full disk. In each case the client's exit code and output must be
 * plain ghc's (or, for the timeout, a clear error), and the server must be healthy afterwards. (Garbage and
 * oversized frames: tests/system/fuzz_test.ts and tests/system/server_test.ts.)
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  assertSameOutputs,
  assertSameRun,
  clientCommand,
  GHC,
  ghc,
  ghcpw,
  ghcpwCli,
  listFiles,
  run,
  startServer,
} from "../support/helpers.ts";
import {
  assertHealthy,
  isolated,
  normaliseTemporaries,
  plainModule,
  serveStandIn,
  slowModule,
  spawnCli,
  spawnClient,
  spawnProcess,
  statusOf,
  twinTrees,
  waitFor,
  workersOf,
} from "../support/service.ts";
import { processAlive } from "../../lib/process/state.ts";
import { realExecutablePath } from "../../lib/ghc/installation.ts";
import { requestDirOwner, requestDirRoot } from "../../lib/pool/request_dir.ts";
import { INTERRUPTED_EXIT } from "../../lib/client/client.ts";

/** Waits until the server has a busy worker and returns its pid. */
async function busyWorker(socket: string, env: Record<string, string> = {}): Promise<number> {
  let pid = 0;
  await waitFor(
    "a worker to start on the request",
    async () => {
      const busy = workersOf(await statusOf(socket, env)).find((w) => w.state === "busy");
      pid = busy?.pid ?? 0;
      return busy !== undefined;
    },
    30_000,
    50,
  );
  return pid;
}

Deno.test("faults in workers and clients", async (t) => {
  const server = await startServer(["-n", "1"]);
  try {
    await t.step("a worker killed mid-request: retried on a fresh worker, ghc's result", async () => {
      const trees = await twinTrees({ "Slow.hs": slowModule("Slow", 2500) });
      const args = ["-c", "Slow.hs"];
      const expected = await ghc(args, trees.cold);
      const client = spawnClient(server.socket, args, trees.warm);
      const victim = await busyWorker(server.socket);
      Deno.kill(victim, "SIGKILL");
      assertSameRun(await client.result, expected);
      await assertSameOutputs(trees.cold, trees.warm, [".hi"]);
      const status = await statusOf(server.socket);
      // deno-lint-ignore no-explicit-any
      const s = status as any;
      assertEquals(s.pool.retries, 1);
      assertEquals(s.lastRecycle.pid, victim);
      assertMatch(s.lastRecycle.detail, /SIGKILL/);
      assert(workersOf(status).every((w) => w.pid !== victim));
      await assertHealthy(server.socket, 1);
    });

    await t.step("a client killed mid-request: its compile is cancelled within a second", async () => {
      const trees = await twinTrees({ "Stuck.hs": childProcessModule("Stuck", 60) });
      const client = spawnClient(server.socket, ["-c", "Stuck.hs"], trees.warm);
      const worker = await busyWorker(server.socket);
      let sleeper = 0;
      await waitFor("the splice to start its child process", () => {
        sleeper = childrenOf(worker)[0] ?? 0;
        return sleeper !== 0;
      }, 30_000);
      client.child.kill("SIGKILL");
      // What the worker runs goes with it: a C compiler or assembler left running would write outputs.
      const elapsed = await waitFor(
        "the worker and its child to be killed",
        () => !processAlive(worker) && !processAlive(sleeper),
        5000,
        10,
      );
      assert(elapsed < 1000, `the worker outlived its client by ${Math.round(elapsed)} ms`);
      const result = await client.result;
      assertEquals(result.signal, "SIGKILL");
      assertEquals(
        [...Deno.readDirSync(trees.warm)].map((e) => e.name),
        ["Stuck.hs"],
        "a cancelled compile wrote output",
      );
      // The server notices the worker's death a moment after the kernel does.
      // deno-lint-ignore no-explicit-any
      let s: any;
      await waitFor("the server to count the cancelled request", async () => {
        s = await statusOf(server.socket);
        return s.server.clientsGone >= 1;
      });
      assertEquals(s.lastRecycle.pid, worker);
      assertEquals(s.lastRecycle.reason, "cancelled");
      await assertHealthy(server.socket, 1);
    });

    await t.step(
      "a worker killed after output reached the client: reported once, ghc not run again",
      async () => {
        const trees = await twinTrees({ "Partial.hs": partialOutputModule("Partial") });
        // The client's stdout and stderr are files, so the test sees what it has printed so far.
        const client = spawnProcess(
          "sh",
          ["-c", 'exec "$@" >out 2>err', "sh", ...clientCommand(server.socket, ["-c", "Partial.hs"])],
          { cwd: trees.warm },
        );
        const victim = await busyWorker(server.socket);
        await waitFor(
          "the splice's output to reach the client",
          async () => (await Deno.readTextFile(`${trees.warm}/out`).catch(() => "")).includes("partial"),
          30_000,
        );
        Deno.kill(victim, "SIGKILL");
        const result = await client.result;
        assertEquals(result.code, INTERRUPTED_EXIT);
        assertEquals(await Deno.readTextFile(`${trees.warm}/out`), "partial output\n");
        const err = await Deno.readTextFile(`${trees.warm}/err`);
        assertMatch(
          err,
          /^ghcpw: the compile broke off after part of its output was printed \(the server failed: /,
        );
        assertMatch(err, /ghc was not run again, which would print it twice\.\nghcpw: run the command again/);
        assertEquals(await listFiles(trees.warm), ["Partial.hs", "err", "out", "ran-once"]);
        await assertHealthy(server.socket, 1);
      },
    );

    await t.step("a compile's output takes no space on the server, however large", async () => {
      const trees = await twinTrees({ "Loud.hs": loudModule("Loud", 8 * 1024 * 1024) });
      const serverPid = (await statusOf(server.socket)).pid as number;
      const client = spawnClient(server.socket, ["-c", "Loud.hs"], trees.warm);
      await waitFor("the splice to print", () => exists(`${trees.warm}/printed`), 60_000);
      // The splice waits now: everything it printed has been written, and nothing has been cleaned up.
      const held = await requestDirBytes(serverPid);
      await Deno.writeTextFile(`${trees.warm}/release`, "");
      await Deno.writeTextFile(`${trees.cold}/release`, "");
      const result = await client.result;
      assert(held < 1024 * 1024, `the request's directory held ${held} bytes while the splice waited`);
      assertSameRun(result, await ghc(["-c", "Loud.hs"], trees.cold));
      await assertHealthy(server.socket, 1);
    });

    await t.step("an unwritable output directory and a full disk: ghc's errors", async () => {
      const trees = await twinTrees({ "Out.hs": plainModule("Out") });
      // Both runs in one directory, one after the other, so that paths in messages are the same.
      const dir = trees.warm;
      const cases: string[][] = [];
      const mounts: string[] = [];
      const mount = async (name: string, options: string) => {
        await Deno.mkdir(`${dir}/${name}`);
        const r = await run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", `${dir}/${name}`]);
        if (r.code === 0) mounts.push(`${dir}/${name}`);
        return r.code === 0;
      };
      try {
        if (await mount("ro", "size=1m,ro")) {
          cases.push(["-odir", "ro/out", "-hidir", "ro/out"], ["-odir", "ro", "-hidir", "ro"]);
        } else if (Deno.uid() !== 0) {
          // No mount without root; permissions make a directory unwritable for everyone else.
          await Deno.chmod(`${dir}/ro`, 0o555);
          cases.push(["-odir", "ro/out", "-hidir", "ro/out"], ["-odir", "ro", "-hidir", "ro"]);
        } else {
          console.warn("cannot mount a read-only file system: the unwritable directory cases are skipped");
        }
        if (await mount("full", "size=64k")) {
          await Deno.writeFile(`${dir}/full/filler`, new Uint8Array(256 * 1024)).catch(() => {});
          cases.push(["-odir", "full", "-hidir", "full"], ["-odir", "full", "-hidir", "hi"]);
        }
        for (const extra of cases) {
          const args = ["-c", "Out.hs", ...extra];
          const expected = await ghc(args, dir);
          await run("sh", ["-c", "rm -rf full/Out.* full/*.tmp hi"], { cwd: dir });
          const actual = await ghcpw(server.socket, args, dir);
          await run("sh", ["-c", "rm -rf full/Out.* full/*.tmp hi"], { cwd: dir });
          assertEquals(expected.code, 1, `plain ghc succeeded with ${extra.join(" ")}`);
          assertSameRun(actual, expected, normaliseTemporaries);
        }
      } finally {
        for (const m of mounts) await run("umount", [m]);
      }
      await assertHealthy(server.socket, 1);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("a request over the timeout is killed with a clear error", async () => {
  // Long enough for the health check's compile on a fresh worker on a busy machine.
  const server = await startServer(["-n", "1", "--request-timeout", "4s"]);
  try {
    const trees = await twinTrees({ "Forever.hs": slowModule("Forever", 60_000) });
    const started = performance.now();
    const r = await ghcpw(server.socket, ["-c", "Forever.hs"], trees.warm);
    const seconds = (performance.now() - started) / 1000;
    assertEquals(r.code, 1);
    assertEquals(r.stdout, "");
    assertMatch(r.stderr, /^ghcpw: the compile ran longer than the request timeout \(4 s\) and was killed/);
    assert(seconds < 10, `the timeout took ${seconds} s`);
    // deno-lint-ignore no-explicit-any
    const s = await statusOf(server.socket) as any;
    assertEquals(s.totals.timeouts, 1);
    assertEquals(s.lastRecycle.reason, "cancelled");
    await assertHealthy(server.socket, 1);
  } finally {
    await server.stop();
  }
});

/**
 * A module whose splice prints a line and, the first time it runs in a directory, then waits for a minute
 * (a second run, such as ghc run again after a failure, prints the line and goes on).
 */
function partialOutputModule(name: string): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} (p) where

import Control.Concurrent (threadDelay)
import Control.Monad (unless)
import Language.Haskell.TH.Syntax (lift, runIO)
import System.Directory (doesFileExist)
import System.IO (hFlush, stdout)

p :: Int
p = $(runIO (do
  putStrLn "partial output"
  hFlush stdout
  again <- doesFileExist "ran-once"
  unless again (writeFile "ran-once" "" >> threadDelay 60000000)) >> lift (1 :: Int))
`;
}

/**
 * A module whose splice prints `bytes` bytes to stdout and a line to stderr, creates the file `printed`,
 * and waits until the file `release` exists.
 */
function loudModule(name: string, bytes: number): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} (l) where

import Control.Concurrent (threadDelay)
import Language.Haskell.TH.Syntax (lift, runIO)
import System.Directory (doesFileExist)
import System.IO (hFlush, hPutStrLn, stderr, stdout)

l :: Int
l = $(runIO (do
  mapM_ (\\i -> putStrLn (show i ++ replicate 99 'x')) [1 .. ${Math.ceil(bytes / 100)} :: Int]
  hPutStrLn stderr "printed it all"
  hFlush stdout
  writeFile "printed" ""
  let wait = doesFileExist "release" >>= \\r -> if r then pure () else threadDelay 20000 >> wait
  wait) >> lift (1 :: Int))
`;
}

/** Whether a file exists. */
async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Bytes in the files of the request directories of the server with pid `serverPid`. */
async function requestDirBytes(serverPid: number): Promise<number> {
  let total = 0;
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else total += (await Deno.lstat(path)).size;
    }
  };
  for await (const entry of Deno.readDir(requestDirRoot())) {
    if (requestDirOwner(entry.name)?.pid === serverPid) await walk(`${requestDirRoot()}/${entry.name}`);
  }
  return total;
}

/** A module whose splice runs `sleep` for `seconds` as a child process, as GHC runs gcc or iserv. */
function childProcessModule(name: string, seconds: number): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} (slow) where

import Language.Haskell.TH.Syntax (lift, runIO)
import System.Process (callProcess)

slow :: Int
slow = $(runIO (callProcess "sleep" ["${seconds}"]) >> lift (42 :: Int))
`;
}

/** Pids of the live child processes of `pid`. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // Field 4 (the parent) comes after the command name, which may hold spaces.
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === pid && processAlive(Number(entry.name))) children.push(Number(entry.name));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

Deno.test("the server killed mid-request: its worker exits at once, the client falls back to ghc, the next one restarts it", async () => {
  const env = await isolated({ GHCPW_JOBS: "1" });
  try {
    const trees = await twinTrees({
      "Slow.hs": childProcessModule("Slow", 6),
      "First.hs": plainModule("First"),
      "Next.hs": plainModule("Next"),
    });
    // The first client starts the server (auto-start on the default socket).
    const first = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "First.hs"], {
      cwd: trees.warm,
      env: { ...env.env, GHCPW_STRICT: "1" },
    });
    assertSameRun(first, await ghc(["-c", "First.hs"], trees.cold));
    const socket = [...Deno.readDirSync(env.runtime)].find((e) => e.name.endsWith(".sock"))!.name;
    const status = await statusOf(`${env.runtime}/${socket}`, env.env);
    const serverPid = status.pid as number;

    // Not strict: falling back is the point.
    const args = ["-c", "Slow.hs"];
    const expected = ghc(args, trees.cold);
    const client = spawnCli(["ghc", "--ghc", GHC, "--", ...args], { cwd: trees.warm, env: env.env });
    const orphan = await busyWorker(`${env.runtime}/${socket}`, env.env);
    let sleeper = 0;
    await waitFor("the splice to start its child process", () => {
      sleeper = childrenOf(orphan)[0] ?? 0;
      return sleeper !== 0;
    }, 30_000);
    const requestDirs = () =>
      [...Deno.readDirSync(requestDirRoot())].filter((e) => requestDirOwner(e.name)?.pid === serverPid)
        .map((e) => e.name);
    assertEquals(requestDirs().length, 1, "the request has no directory named after its server");
    const before = await listFiles(trees.warm);

    Deno.kill(serverPid, "SIGKILL");
    // Mid-compile, the worker and what it runs must go at once: left running, the worker would write the
    // outputs that the client's fallback ghc is writing too.
    const elapsed = await waitFor(
      "the orphaned worker and its child to exit",
      () => !processAlive(orphan) && !processAlive(sleeper),
      10_000,
    );
    assert(elapsed < 2000, `the worker outlived its server by ${Math.round(elapsed)} ms`);
    // The fallback ghc is still in its splice, so any output now would be the orphan's.
    assertEquals(await listFiles(trees.warm), before, "the orphaned worker wrote output");
    assertSameRun(await client.result, await expected);
    await assertSameOutputs(trees.cold, trees.warm, [".hi"]);

    // The next client finds the stale socket and starts a new server, which removes the directory.
    const next = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "Next.hs"], {
      cwd: trees.warm,
      env: { ...env.env, GHCPW_STRICT: "1" },
    });
    assertEquals(next.code, 0, next.stderr);
    const restarted = await statusOf(`${env.runtime}/${socket}`, env.env);
    assert(restarted.pid !== serverPid, "the server was not restarted");
    assertEquals(requestDirs(), [], "the killed server's request directory was left behind");
    await assertHealthy(`${env.runtime}/${socket}`, 1, env.env);
  } finally {
    await env.cleanup();
  }
});

Deno.test("a crashed worker's last stderr lines are logged and shown by status", async () => {
  // A ghc that, as a worker, says something on stderr first, as a GHC about to crash might.
  const dir = await Deno.makeTempDir({ prefix: "gpw-" });
  const wrapper = `${dir}/ghc`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" --frontend "*) echo "ghcpw-test: worker $$ says goodbye" >&2;; esac\nexec ${
      realExecutablePath(GHC)
    } "$@"\n`,
  );
  await Deno.chmod(wrapper, 0o755);
  const socket = `${dir}/s.sock`;
  const server = await serveStandIn(socket, wrapper);
  try {
    const victim = workersOf(await statusOf(socket))[0].pid;
    Deno.kill(victim, "SIGKILL");
    const trees = await twinTrees({ "A.hs": plainModule("A") });
    const r = await ghcpwCli(["ghc", "--socket", socket, "--ghc", wrapper, "--", "-c", "A.hs"], {
      cwd: trees.warm,
      env: { GHCPW_STRICT: "1" },
    });
    assertSameRun(r, await ghc(["-c", "A.hs"], trees.cold));
    const shown = await ghcpwCli(["status", "--socket", socket]);
    assertMatch(shown.stdout, new RegExp(`last recycled worker ${victim} \\(failure.*exited while idle`));
    assertMatch(
      shown.stdout,
      new RegExp(`its last stderr lines:\\n +ghcpw-test: worker ${victim} says goodbye`),
    );
  } finally {
    await ghcpwCli(["stop", "--socket", socket]);
    const log = (await server.result).stderr;
    await Deno.remove(dir, { recursive: true });
    assertMatch(
      log,
      /Worker \d+ exited while idle; its last stderr lines: ghcpw-test: worker \d+ says goodbye/,
    );
  }
});
