/**
 * Who may use a server: only a client that presents the user's token, read from a runtime directory
 * that is the user's own (a real directory, owned by them, mode 0700). Anything else is refused with a
 * message that says what is wrong; sockets are 0600; socket paths of any length work.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { assertSameRun, GHC, ghc, ghcpw, ghcpwCli, startServer } from "../support/helpers.ts";
import {
  assertHealthy,
  isolated,
  plainModule,
  spawnCli,
  statusOf,
  twinTrees,
  waitFor,
} from "../support/service.ts";
import { answers } from "../../lib/client/autostart.ts";

/** Runs the client in `env`, strict unless told otherwise. */
function client(args: string[], cwd: string, env: Record<string, string>, socket?: string) {
  const socketArgs = socket === undefined ? [] : ["--socket", socket];
  return ghcpwCli(["ghc", ...socketArgs, "--ghc", GHC, "--", ...args], {
    cwd,
    env: { GHCPW_STRICT: "1", ...env },
  });
}

Deno.test("a client with the wrong token is refused and falls back", async () => {
  const server = await startServer(["-n", "1"]);
  const other = await isolated();
  try {
    const trees = await twinTrees({ "A.hs": plainModule("A") });
    // Another runtime directory, with a token of its own: not the server's.
    await Deno.mkdir(other.runtime, { mode: 0o700 });
    await Deno.writeTextFile(`${other.runtime}/token`, `${"ab".repeat(32)}\n`, { mode: 0o600 });
    const refused = await client(["-c", "A.hs"], trees.warm, other.env, server.socket);
    assertEquals(refused.code, 2);
    assertMatch(refused.stderr, /the server refused the request: refused: wrong token/);
    // Without GHCPW_STRICT the build goes on, on plain ghc.
    const fallback = await client(
      ["-c", "A.hs"],
      trees.warm,
      { ...other.env, GHCPW_STRICT: "" },
      server.socket,
    );
    assertSameRun(fallback, await ghc(["-c", "A.hs"], trees.cold));
    // deno-lint-ignore no-explicit-any
    const status = await statusOf(server.socket) as any;
    assertEquals(status.server.refused, 2);
    assertEquals(status.totals.requests, 0);
    await assertHealthy(server.socket, 1);
  } finally {
    await server.stop();
    await other.cleanup();
  }
});

Deno.test("unsafe runtime directories are refused with a clear message", async (t) => {
  const trees = await twinTrees({ "A.hs": plainModule("A") });
  const expectRefusal = async (env: Record<string, string>, message: RegExp) => {
    const serve = await ghcpwCli(["serve", "--ghc", GHC, "-n", "1"], { env });
    assertEquals(serve.code, 1, serve.stderr);
    assertMatch(serve.stderr, message);
    const strict = await client(["-c", "A.hs"], trees.warm, env);
    assertEquals(strict.code, 2);
    assertMatch(strict.stderr, message);
    // Not strict: no server is used, and the build still gets plain ghc's result.
    assertSameRun(
      await client(["-c", "A.hs"], trees.warm, { ...env, GHCPW_STRICT: "" }),
      await ghc(["-c", "A.hs"], trees.cold),
    );
    const status = await ghcpwCli(["status"], { env });
    assertEquals(status.code, 1);
    assertMatch(status.stderr, message);
  };

  await t.step("loose permissions", async () => {
    const env = await isolated();
    try {
      await Deno.mkdir(env.runtime);
      await Deno.chmod(env.runtime, 0o755);
      await expectRefusal(
        env.env,
        /runtime directory .*\/ghcpw has mode 0755, which lets other users in.*chmod 700/,
      );
      assertEquals(
        (await Deno.stat(env.runtime)).mode! & 0o777,
        0o755,
        "ghcpw changed a directory it refused",
      );
    } finally {
      await env.cleanup();
    }
  });

  await t.step("a symbolic link", async () => {
    const env = await isolated();
    try {
      await Deno.mkdir(`${env.root}/elsewhere`, { mode: 0o700 });
      await Deno.symlink(`${env.root}/elsewhere`, env.runtime);
      await expectRefusal(env.env, /runtime directory .*\/ghcpw is a symbolic link, which ghcpw refuses/);
      assertEquals([...Deno.readDirSync(`${env.root}/elsewhere`)], []);
    } finally {
      await env.cleanup();
    }
  });

  await t.step("another user's directory", async () => {
    if (Deno.uid() !== 0) return; // only root can give a directory away
    const env = await isolated();
    try {
      await Deno.mkdir(env.runtime, { mode: 0o700 });
      await Deno.chown(env.runtime, 65534, 65534);
      await expectRefusal(env.env, /runtime directory .*\/ghcpw belongs to uid 65534, not to you \(uid 0\)/);
    } finally {
      await env.cleanup();
    }
  });

  await t.step("a token file others can read", async () => {
    const env = await isolated();
    try {
      await Deno.mkdir(env.runtime, { mode: 0o700 });
      await Deno.writeTextFile(`${env.runtime}/token`, `${"cd".repeat(32)}\n`);
      await Deno.chmod(`${env.runtime}/token`, 0o644);
      await expectRefusal(env.env, /token has mode 0644; it must be 0600/);
    } finally {
      await env.cleanup();
    }
  });
});

Deno.test("what ghcpw creates is private; long socket paths work", async () => {
  const env = await isolated({ GHCPW_JOBS: "1" });
  try {
    const trees = await twinTrees({ "A.hs": plainModule("A"), "B.hs": plainModule("B") });
    // Auto-start creates the runtime directory, the token and the socket.
    assertSameRun(await client(["-c", "A.hs"], trees.warm, env.env), await ghc(["-c", "A.hs"], trees.cold));
    assertEquals((await Deno.lstat(env.runtime)).mode! & 0o777, 0o700);
    assertEquals((await Deno.lstat(`${env.runtime}/token`)).mode! & 0o777, 0o600);
    const sockets = [...Deno.readDirSync(env.runtime)].filter((e) => e.name.endsWith(".sock"));
    assertEquals(sockets.length, 1);
    assertEquals((await Deno.lstat(`${env.runtime}/${sockets[0].name}`)).mode! & 0o777, 0o600);

    // A socket path far beyond the 108 bytes of sockaddr_un.
    const deep = `${env.root}/${"d".repeat(60)}/${"e".repeat(60)}`;
    const socket = `${deep}/ghcpw.sock`;
    assert(new TextEncoder().encode(socket).length > 140);
    const server = spawnCli(["serve", "--socket", socket, "--ghc", GHC, "-n", "1"]);
    try {
      await waitFor("the server on the long path to answer", () => answers(socket), 120_000, 50);
      assertSameRun(await ghcpw(socket, ["-c", "B.hs"], trees.warm), await ghc(["-c", "B.hs"], trees.cold));
      assertEquals((await statusOf(socket)).socket, socket);
      assertMatch((await ghcpwCli(["stop", "--socket", socket])).stdout, /stopped the server/);
    } finally {
      await ghcpwCli(["stop", "--socket", socket]);
      assertEquals((await server.result).code, 0);
    }
  } finally {
    await env.cleanup();
  }
});
