/**
 * Who talks to whom. A client connects only to a socket that is safely the user's own, and tells a server
 * nothing until it has proved that it knows the user's token; a server serves only a client that proves
 * the same. The token lives in a runtime directory that is the user's own (a real directory, owned by
 * them, mode 0700). Anything else is refused with a message that says what is wrong; sockets are 0600;
 * socket paths of any length work.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  assertSameOutputs,
  assertSameRun,
  GHC,
  ghc,
  ghcpw,
  ghcpwCli,
  run,
  startServer,
} from "../support/helpers.ts";
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
import { ensureToken } from "../../lib/address/token.ts";
import { killAndWait } from "../../lib/process/kill.ts";

/** Runs the client in `env`, strict unless told otherwise. */
function client(args: string[], cwd: string, env: Record<string, string>, socket?: string) {
  const socketArgs = socket === undefined ? [] : ["--socket", socket];
  return ghcpwCli(["ghc", ...socketArgs, "--ghc", GHC, "--", ...args], {
    cwd,
    env: { GHCPW_STRICT: "1", ...env },
  });
}

/** A module whose name and value are easy to spot in what a listener received. */
const SECRET_MODULE = "SecretModule4417";
const SECRET_ENV = { GHCPW_TEST_SECRET: "secret-value-5532" };

/**
 * A listener of another local user: it binds `socket`, lets anyone connect, and appends every byte it
 * receives to `record`, closing a connection after a second of silence. Plain JavaScript with no imports,
 * so that Deno runs it as that user without a cache or configuration.
 */
const RECORDING_LISTENER = `
const [path, record] = Deno.args;
const listener = Deno.listen({ transport: "unix", path });
Deno.chmodSync(path, 0o777);
const file = await Deno.open(record, { write: true, create: true, append: true });
for await (const conn of listener) {
  (async () => {
    await file.write(new TextEncoder().encode("[connection]"));
    const buffer = new Uint8Array(65536);
    for (;;) {
      const idle = new Promise((resolve) => setTimeout(() => resolve("idle"), 1000));
      const n = await Promise.race([conn.read(buffer).catch(() => null), idle]);
      if (n === null || n === "idle") break;
      await file.write(buffer.slice(0, n));
    }
    conn.close();
  })().catch(() => {});
}
`;

/** A second local user, created for a test and removed afterwards (the suites run as root). */
async function withOtherUser(fn: (user: { uid: number; gid: number }) => Promise<void>): Promise<void> {
  const name = `ghcpwt${crypto.randomUUID().slice(0, 8)}`;
  const added = await run("useradd", ["--system", "--no-create-home", "--user-group", name]);
  assertEquals(added.code, 0, added.stderr);
  try {
    const uid = Number((await run("id", ["-u", name])).stdout.trim());
    const gid = Number((await run("id", ["-g", name])).stdout.trim());
    await fn({ uid, gid });
  } finally {
    const removed = await run("userdel", [name]);
    assertEquals(removed.code, 0, removed.stderr);
  }
}

Deno.test("another user listening on a socket in a shared directory is sent nothing", async () => {
  if (Deno.uid() !== 0) return; // only root can create a second user
  await withOtherUser(async (other) => {
    const env = await isolated();
    // Reachable by the other user: a 0755 directory holding a sticky shared one, as /tmp is.
    await Deno.chmod(env.root, 0o755);
    const shared = `${env.root}/shared`;
    await Deno.mkdir(shared);
    await Deno.chmod(shared, 0o1777);
    const theirs = `${env.root}/theirs`;
    await Deno.mkdir(theirs);
    await Deno.chown(theirs, other.uid, other.gid);
    await Deno.writeTextFile(`${theirs}/listener.mjs`, RECORDING_LISTENER);
    const socket = `${shared}/ghcpw.sock`;
    const record = `${theirs}/received`;
    const listener = new Deno.Command("setpriv", {
      args: [
        `--reuid=${other.uid}`,
        `--regid=${other.gid}`,
        "--clear-groups",
        Deno.execPath(),
        "run",
        "-A",
        `${theirs}/listener.mjs`,
        socket,
        record,
      ],
      env: { HOME: theirs, DENO_DIR: `${theirs}/deno`, DENO_NO_UPDATE_CHECK: "1" },
      cwd: theirs,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      await waitFor("the other user's listener", async () => {
        try {
          return (await Deno.lstat(socket)).isSocket === true;
        } catch {
          return false;
        }
      }, 30_000);
      assertEquals((await Deno.lstat(socket)).uid, other.uid);
      const trees = await twinTrees({ [`${SECRET_MODULE}.hs`]: plainModule(SECRET_MODULE, 4417) });
      const args = ["-c", `${SECRET_MODULE}.hs`];
      // Auto-start would not help: the socket is taken. A token exists, as for any user of ghcpw.
      const clientEnv = { ...env.env, ...SECRET_ENV, GHCPW_AUTOSTART: "0" };
      await Deno.mkdir(env.runtime, { mode: 0o700 });
      const token = await ensureToken(env.runtime);

      const strict = await client(args, trees.warm, clientEnv, socket);
      const fallback = await client(args, trees.warm, { ...clientEnv, GHCPW_STRICT: "" }, socket);
      const received = await Deno.readFile(record).catch(() => new Uint8Array());
      const text = new TextDecoder().decode(received);
      // Not a byte: the client did not even connect.
      assertEquals(text, "", `the other user's listener received: ${JSON.stringify(text.slice(0, 400))}`);
      assert(
        !text.includes(token) && !text.includes(SECRET_ENV.GHCPW_TEST_SECRET) &&
          !text.includes(SECRET_MODULE),
      );

      assertEquals(strict.code, 2);
      assertMatch(
        strict.stderr,
        new RegExp(
          `^ghcpw: the socket ${shared}/ghcpw\\.sock belongs to uid ${other.uid}, not to you \\(uid 0\\): ` +
            `another user's program may be listening there, and ghcpw would send it your environment and ` +
            `arguments; use the default socket, or one in a directory that only you can write\n` +
            `ghcpw: GHCPW_STRICT is set`,
        ),
      );
      // Not strict: plain ghc's result, and nothing else on the terminal.
      assertSameRun(fallback, await ghc(args, trees.cold));
      await assertSameOutputs(trees.cold, trees.warm, [".hi"]);
    } finally {
      await killAndWait(listener);
      await env.cleanup();
    }
  });
});

Deno.test("a server of this user that does not know the token is told nothing, and the client falls back", async () => {
  // A real ghcpw server with a runtime directory, and so a token, of its own.
  const impostor = await startServer(["-n", "1"]);
  const env = await isolated();
  try {
    const trees = await twinTrees({ [`${SECRET_MODULE}.hs`]: plainModule(SECRET_MODULE) });
    const args = ["-c", `${SECRET_MODULE}.hs`];
    await Deno.mkdir(env.runtime, { mode: 0o700 });
    await Deno.writeTextFile(`${env.runtime}/token`, `${"ab".repeat(32)}\n`, { mode: 0o600 });
    const clientEnv = { ...env.env, ...SECRET_ENV };
    const refused = await client(args, trees.warm, clientEnv, impostor.socket);
    assertEquals(refused.code, 2);
    assertMatch(
      refused.stderr,
      /^ghcpw: the server on .*ghcpw\.sock could not prove that it knows your ghcpw token, so it was sent nothing/,
    );
    // Without GHCPW_STRICT the build goes on, on plain ghc.
    const fallback = await client(args, trees.warm, { ...clientEnv, GHCPW_STRICT: "" }, impostor.socket);
    assertSameRun(fallback, await ghc(args, trees.cold));
    // deno-lint-ignore no-explicit-any
    const status = await statusOf(impostor.socket) as any;
    assertEquals(status.totals.requests, 0);
    await assertHealthy(impostor.socket, 1);
  } finally {
    const log = await impostor.stop();
    await env.cleanup();
    // The server logs every request it reads (-v): it never read this one.
    assert(!log.includes(SECRET_MODULE), log);
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
