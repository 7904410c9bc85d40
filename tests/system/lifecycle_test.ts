/**
 * The server's life as a service: auto-start (one server for sixteen racing clients, detached, holding
 * nothing of the client's), refusing to start over a live server, replacing a stale socket, stopping
 * after the running compile, refusing to stop without the token, idle exit, exit when the socket file
 * goes away, and a client meeting a server of another ghcpw version or protocol.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { assertSameRun, GHC, ghc, ghcpw, ghcpwCli, run } from "../support/helpers.ts";
import {
  assertHealthy,
  isolated,
  plainModule,
  serverPids,
  slowModule,
  spawnCli,
  spawnClient,
  statusOf,
  twinTrees,
  waitFor,
  workersOf,
} from "../support/service.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { processAlive } from "../../lib/process/state.ts";
import { answers } from "../../lib/client/autostart.ts";
import { PROTOCOL_VERSION } from "../../lib/wire/client_protocol.ts";
import { VERSION } from "../../lib/version.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The sockets in a runtime directory. */
function socketsIn(runtime: string): string[] {
  return [...Deno.readDirSync(runtime)].filter((e) => e.name.endsWith(".sock")).map((e) =>
    `${runtime}/${e.name}`
  )
    .sort();
}

/** Starts `ghcpw serve` in the foreground on `socket` and waits until it answers. */
async function foregroundServer(socket: string, extra: string[] = []) {
  const server = spawnCli(["serve", "--socket", socket, "--ghc", GHC, "-n", "1", ...extra]);
  let exited = false;
  server.result.then(() => exited = true);
  await waitFor(
    "the server to answer",
    async () => {
      if (exited) throw new Error(`the server exited: ${(await server.result).stderr}`);
      return await answers(socket);
    },
    120_000,
    100,
  );
  return server;
}

Deno.test("auto-start: sixteen racing clients get one detached server and ghc's results", async () => {
  const env = await isolated({ GHCPW_JOBS: "2" });
  try {
    const names = Array.from({ length: 16 }, (_, i) => `Race${i}`);
    const trees = await twinTrees(Object.fromEntries(names.map((n, i) => [`${n}.hs`, plainModule(n, i)])));
    const marker = `${env.root}/inherited`;
    // Each client inherits an extra descriptor, as from a build tool; the server must not keep it.
    const results = await Promise.all(names.map((n) =>
      run("sh", [
        "-c",
        `exec 7>>"$0"; exec deno run -A "$1" ghc --ghc "$2" -- -c "$3"`,
        marker,
        `${ROOT}/main.ts`,
        GHC,
        `${n}.hs`,
      ], { cwd: trees.warm, env: { ...env.env, GHCPW_STRICT: "1" } })
    ));
    for (const [i, n] of names.entries()) {
      assertSameRun(results[i], await ghc(["-c", `${n}.hs`], trees.cold));
    }
    assertEquals(socketsIn(env.runtime).length, 1);
    const pids = serverPids(env.root);
    assertEquals(pids.length, 1, `servers running: ${pids.join(", ")}`);
    const [pid] = pids;
    const statuses = JSON.parse((await ghcpwCli(["status", "--json"], { env: env.env })).stdout);
    assertEquals(statuses.length, 1);
    assertEquals(statuses[0].pid, pid);
    assertEquals(statuses[0].totals.requests, 16);
    // Detached: a session of its own, and none of the client's descriptors.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const sid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
    assertEquals(sid, pid, "the server is not a session leader");
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
      assert(target !== marker, `the server kept the client's descriptor ${fd.name}`);
    }
    assertMatch(await Deno.readTextFile(statuses[0].logFile), /Serving GHC/);

    // A second server is refused while this one runs, in the foreground and in the background.
    for (const detach of [[], ["--detach"]]) {
      const again = await ghcpwCli(["serve", "--ghc", GHC, ...detach], { env: env.env });
      assertEquals(again.code, 1);
      assertMatch(again.stderr, /a ghcpw server is already running on .*\.sock/);
    }
    assertEquals(serverPids(env.root), [pid]);
    await assertHealthy(socketsIn(env.runtime)[0], 2, env.env);

    const stopped = await ghcpwCli(["stop"], { env: env.env });
    assertEquals(stopped.code, 0, stopped.stderr);
    assertMatch(stopped.stdout, new RegExp(`stopped the server on .* \\(pid ${pid}\\)`));
    assert(!processAlive(pid));
    assertEquals(socketsIn(env.runtime), []);
  } finally {
    await env.cleanup();
  }
});

Deno.test("serve replaces a stale socket, refuses what is not a socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpw-" });
  try {
    // A socket whose server died without removing it.
    const stale = `${dir}/stale.sock`;
    const holder = new Deno.Command("deno", {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(stale)} }); setInterval(() => {}, 1000)`,
      ],
    }).spawn();
    await waitFor("the socket to appear", () => {
      try {
        return Deno.lstatSync(stale).isSocket === true;
      } catch {
        return false;
      }
    });
    await killAndWait(holder);
    const server = await foregroundServer(stale);
    await assertHealthy(stale, 1);
    await ghcpwCli(["stop", "--socket", stale]);
    assertEquals((await server.result).code, 0);

    await Deno.writeTextFile(`${dir}/file.sock`, "not a socket");
    const refused = await ghcpwCli(["serve", "--socket", `${dir}/file.sock`, "--ghc", GHC]);
    assertEquals(refused.code, 1);
    assertMatch(refused.stderr, /file\.sock exists and is not a socket/);
    assertEquals(await Deno.readTextFile(`${dir}/file.sock`), "not a socket");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stop lets the running compile finish; idle time and a removed socket end a server", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "gpw-" });
  try {
    await t.step("ghcpw stop waits for the running compile, which gets ghc's result", async () => {
      const socket = `${dir}/stop.sock`;
      const server = await foregroundServer(socket);
      const trees = await twinTrees({ "Slow.hs": slowModule("Slow", 2000) });
      const client = spawnClient(socket, ["-c", "Slow.hs"], trees.warm);
      await waitFor(
        "the compile to start",
        async () => workersOf(await statusOf(socket))[0]?.state === "busy",
      );
      const stop = await ghcpwCli(["stop", "--socket", socket]);
      assertEquals(stop.code, 0, stop.stderr);
      assertSameRun(await client.result, await ghc(["-c", "Slow.hs"], trees.cold));
      assertEquals((await server.result).code, 0);
      assertEquals((await ghcpw(socket, ["-c", "Slow.hs"], trees.warm)).code, 2, "a stopped server answered");
    });

    await t.step("ghcpw stop without the server's token fails and says how to reach it", async () => {
      const socket = `${dir}/token.sock`;
      const server = await foregroundServer(socket);
      // Existing, so that ghcpw uses it (not /tmp/ghcpw-<uid>, which may hold a token); it holds none.
      const elsewhere = `${dir}/elsewhere`;
      await Deno.mkdir(elsewhere, { mode: 0o700 });
      const refused = await ghcpwCli(["stop", "--socket", socket], { env: { XDG_RUNTIME_DIR: elsewhere } });
      assertEquals(refused.code, 1);
      assertMatch(
        refused.stderr,
        /cannot stop the server on .*token\.sock: no ghcpw server has run as you with the runtime directory .*elsewhere\/ghcpw .*set XDG_RUNTIME_DIR/,
      );
      assert(await answers(socket), "the server stopped without its token");
      assertEquals((await ghcpwCli(["stop", "--socket", socket])).code, 0);
      assertEquals((await server.result).code, 0);
    });

    await t.step("a server exits after its idle time", async () => {
      const socket = `${dir}/idle.sock`;
      const trees = await twinTrees({ "A.hs": plainModule("A") });
      // Long enough for the client to start and connect first on a busy machine.
      const server = await foregroundServer(socket, ["--idle-timeout", "3s"]);
      assertSameRun(await ghcpw(socket, ["-c", "A.hs"], trees.warm), await ghc(["-c", "A.hs"], trees.cold));
      const exited = await server.result;
      assertEquals(exited.code, 0);
      assertMatch(exited.stderr, /Stopping \(idle for 3 s\)/);
    });

    await t.step("a server exits when its socket file is removed", async () => {
      const socket = `${dir}/removed.sock`;
      const server = await foregroundServer(socket);
      const worker = workersOf(await statusOf(socket))[0].pid;
      await Deno.remove(socket);
      const started = performance.now();
      const exited = await server.result;
      assert(performance.now() - started < 5000);
      assertEquals(exited.code, 0);
      assertMatch(exited.stderr, /its socket .*removed\.sock was removed or replaced/);
      assert(!processAlive(worker), "its worker outlived it");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A copy of this checkout that calls itself ghcpw `version`: a real server of another version. With
 * `protocol`, it also says it speaks that protocol version, and so refuses this ghcpw's greeting before
 * greeting back, as a server of an older protocol does.
 */
async function otherVersion(version: string, protocol?: number): Promise<string> {
  const copy = await Deno.makeTempDir({ prefix: "ghcpw-old-" });
  await run("cp", ["-r", `${ROOT}/main.ts`, `${ROOT}/lib`, `${ROOT}/deno.json`, `${ROOT}/deno.lock`, copy]);
  await Deno.writeTextFile(`${copy}/lib/version.ts`, `export const VERSION = ${JSON.stringify(version)};\n`);
  if (protocol !== undefined) {
    const file = `${copy}/lib/wire/client_protocol.ts`;
    const source = await Deno.readTextFile(file);
    const patched = source.replace(
      /^export const PROTOCOL_VERSION = \d+;$/m,
      `export const PROTOCOL_VERSION = ${protocol};`,
    );
    assert(patched !== source, "PROTOCOL_VERSION not found");
    await Deno.writeTextFile(file, patched);
  }
  return copy;
}

Deno.test("a client meets a server of another protocol: sends it nothing, uses its own beside it or falls back", async () => {
  const env = await isolated({ GHCPW_JOBS: "1" });
  const old = await otherVersion(VERSION, PROTOCOL_VERSION - 1);
  try {
    const trees = await twinTrees({ "A.hs": plainModule("A"), "B.hs": plainModule("B") });
    const started = await run("deno", ["run", "-A", `${old}/main.ts`, "serve", "--detach", "--ghc", GHC], {
      env: env.env,
    });
    assertEquals(started.code, 0, started.stderr);
    const oldPid = Number(/\(pid (\d+)\)/.exec(started.stdout)?.[1]);
    const [socket] = socketsIn(env.runtime);
    const strict = { ...env.env, GHCPW_STRICT: "1" };

    // Named explicitly (no auto-start): refused, saying why and what to do.
    const named = await ghcpwCli(["ghc", "--socket", socket, "--ghc", GHC, "--", "-c", "A.hs"], {
      cwd: trees.warm,
      env: strict,
    });
    assertEquals(named.code, 2);
    assertMatch(
      named.stderr,
      new RegExp(
        `^ghcpw: the server on .*\\.sock speaks another version of ghcpw's protocol, so it cannot prove ` +
          `that it knows your token and was sent nothing \\(it answered: protocol mismatch: this server ` +
          `\\(ghcpw ${VERSION}\\) speaks protocol ${
            PROTOCOL_VERSION - 1
          }, .*\\); stop it with the ghcpw that ` +
          `started it \\(this one cannot\\), or let it exit after its idle timeout\n`,
      ),
    );

    // The default socket: a server of the client's own protocol beside it.
    const a = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "A.hs"], { cwd: trees.warm, env: strict });
    assertSameRun(a, await ghc(["-c", "A.hs"], trees.cold));
    const b = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "B.hs"], { cwd: trees.warm, env: strict });
    assertSameRun(b, await ghc(["-c", "B.hs"], trees.cold));
    const beside = socketsIn(env.runtime).filter((s) => s !== socket);
    assertEquals(beside.length, 1);
    assertMatch(beside[0], new RegExp(`\\.v${VERSION}\\.sock$`));
    assertEquals(workersOf(await statusOf(beside[0], env.env))[0].requests, 2);
    assert(processAlive(oldPid), "the server of the other protocol was stopped");
  } finally {
    await env.cleanup();
    await Deno.remove(old, { recursive: true });
  }
});

Deno.test("a client meets a server of an older ghcpw: replaces it when idle, leaves it when busy", async () => {
  const env = await isolated({ GHCPW_JOBS: "1" });
  const old = await otherVersion("0.0.9");
  const oldCli = (args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) =>
    run("deno", ["run", "-A", `${old}/main.ts`, ...args], {
      cwd: options.cwd,
      env: { ...env.env, ...options.env },
    });
  try {
    const trees = await twinTrees({
      "A.hs": plainModule("A"),
      "B.hs": plainModule("B"),
      "Slow.hs": slowModule("Slow", 3000),
    });
    const strict = { ...env.env, GHCPW_STRICT: "1" };

    // Idle: the old server gives way to one of the client's version, on the same socket.
    assertEquals((await oldCli(["serve", "--detach", "--ghc", GHC])).code, 0);
    const [socket] = socketsIn(env.runtime);
    const oldStatus = await statusOf(socket, env.env);
    assertEquals(oldStatus.version, "0.0.9");
    const a = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "A.hs"], { cwd: trees.warm, env: strict });
    assertSameRun(a, await ghc(["-c", "A.hs"], trees.cold));
    const replaced = await statusOf(socket, env.env);
    assertEquals(replaced.version, VERSION);
    await waitFor("the old server to exit", () => !processAlive(oldStatus.pid as number));
    assertEquals((await ghcpwCli(["stop"], { env: env.env })).code, 0);

    // Busy: the old server keeps its compile and its socket; the client uses its own server beside it.
    assertEquals((await oldCli(["serve", "--detach", "--ghc", GHC])).code, 0);
    const oldPid = (await statusOf(socket, env.env)).pid as number;
    const oldClient = oldCli(["ghc", "--ghc", GHC, "--", "-c", "Slow.hs"], { cwd: trees.warm, env: strict });
    await waitFor(
      "the old server to be busy",
      async () => workersOf(await statusOf(socket, env.env))[0]?.state === "busy",
    );
    const b = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "B.hs"], { cwd: trees.warm, env: strict });
    assertSameRun(b, await ghc(["-c", "B.hs"], trees.cold));
    assertSameRun(await oldClient, await ghc(["-c", "Slow.hs"], trees.cold));
    assert(processAlive(oldPid));
    const all = JSON.parse((await ghcpwCli(["status", "--json"], { env: env.env })).stdout);
    assertEquals(all.map((s: { version: string }) => s.version).sort(), ["0.0.9", VERSION].sort());
    assertMatch(
      all.find((s: { version: string }) => s.version === VERSION).socket,
      new RegExp(`\\.v${VERSION}\\.sock$`),
    );
  } finally {
    await env.cleanup();
    await Deno.remove(old, { recursive: true });
  }
});
