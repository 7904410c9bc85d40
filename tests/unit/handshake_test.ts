/**
 * Who a client talks to: the challenge–response (lib/wire/handshake.ts) as pure functions, the client's
 * session (lib/client/session.ts) against the real server class and against stand-ins that do not know
 * the token or speak another protocol, and the checks of a socket's ownership (lib/address/socket_trust.ts).
 * In-process, over real unix sockets; no GHC.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  clientProof,
  isClientProof,
  isNonce,
  isServerProof,
  newNonce,
  serverProof,
} from "../../lib/wire/handshake.ts";
import { openSession, SessionFailure } from "../../lib/client/session.ts";
import { ControlRefused, sendControl } from "../../lib/client/control.ts";
import { checkSocket, UntrustedSocket } from "../../lib/address/socket_trust.ts";
import { Server } from "../../lib/server/server.ts";
import type { Compiler } from "../../lib/compile/compile.ts";
import {
  decodeClientMessage,
  encodeServerMessage,
  greeting,
  type ServerMessage,
} from "../../lib/wire/client_protocol.ts";
import { encodeFrame, FrameReader } from "../../lib/wire/frame.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import { VERSION } from "../../lib/version.ts";

const TOKEN = "7".repeat(64);
const OTHER_TOKEN = "8".repeat(64);

Deno.test("proofs hold only for the same token and nonces, and neither side's stands in for the other's", async () => {
  const [c, s] = [newNonce(), newNonce()];
  assert(isNonce(c) && isNonce(s) && c !== s);
  const server = await serverProof(TOKEN, c, s);
  const client = await clientProof(TOKEN, s, c);
  assertMatch(server, /^[0-9a-f]{64}$/);
  assert(await isServerProof(server, TOKEN, c, s));
  assert(await isClientProof(client, TOKEN, s, c));
  // Another token, other nonces, the nonces swapped, a replayed proof of the other side, or none.
  assert(!await isServerProof(server, OTHER_TOKEN, c, s));
  assert(!await isServerProof(server, TOKEN, newNonce(), s));
  assert(!await isServerProof(server, TOKEN, s, c));
  assert(!await isClientProof(server, TOKEN, s, c));
  assert(!await isServerProof(client, TOKEN, c, s));
  assert(!await isClientProof(undefined, TOKEN, s, c));
  assert(!await isClientProof(client.slice(1), TOKEN, s, c));
});

Deno.test("a nonce is 32 random bytes in lower-case hex; nothing else passes", () => {
  assert(newNonce() !== newNonce());
  for (const bad of [undefined, "", "ab".repeat(31), "ab".repeat(33), "AB".repeat(32), "zz".repeat(32)]) {
    assert(!isNonce(bad), String(bad));
  }
});

/** A real server (no compiles: control commands only) on a socket in a fresh directory. */
async function withServer(fn: (socket: string, server: Server) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpw-hs-" });
  const server = new Server({
    socketPath: `${dir}/s.sock`,
    // Never used: these tests send control commands only.
    compiler: {} as Compiler,
    ghcRealPath: "/usr/bin/ghc",
    ghcVersion: "9.0.2",
    // The directory holds no token file, so the server keeps this one.
    token: { value: TOKEN, dir },
    key: "k",
  });
  try {
    await fn(`${dir}/s.sock`, server);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the real server proves itself to a client with the token, and to no other", async () => {
  await withServer(async (socket, server) => {
    const status = await sendControl(socket, "status", TOKEN);
    assertEquals(status.version, VERSION);
    const refused = await sendControl(socket, "status", OTHER_TOKEN).catch((e) => e);
    assert(refused instanceof ControlRefused, String(refused));
    assertMatch(refused.message, /could not prove that it knows your ghcpw token, so it was sent nothing/);
    const anonymous = await openSession(socket, null).catch((e) => e);
    assert(anonymous instanceof SessionFailure && anonymous.kind === "no-token", String(anonymous));
    // Neither got as far as the server checking a proof.
    assertEquals(server.stats.refused, 0);
    assertEquals(server.stats.protocolErrors, 0);
  });
});

/**
 * A stand-in that listens on a socket of this user, records every byte it receives, and answers a
 * greeting with `answer`.
 */
async function withImpostor(
  answer: () => Uint8Array,
  fn: (socket: string, received: () => Uint8Array[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpw-imp-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s.sock` });
  const chunks: Uint8Array[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      const reader = new FrameReader(conn);
      const first = await reader.read();
      if (first !== null) {
        chunks.push(first.payload);
        await conn.write(answer());
        // Keep everything else the client sends.
        const buffer = new Uint8Array(4096);
        for (let n = await conn.read(buffer).catch(() => null); n !== null; n = await conn.read(buffer)) {
          chunks.push(buffer.slice(0, n));
        }
      }
      conn.close();
    }
  })();
  try {
    await fn(`${dir}/s.sock`, () => chunks);
  } finally {
    listener.close();
    await served.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

function frameBytes(message: ServerMessage): Uint8Array {
  const frame = encodeServerMessage(message);
  return encodeFrame(frame.type, frame.payload);
}

Deno.test("a listener that does not know the token learns nothing but a nonce", async () => {
  const guess = () =>
    frameBytes(greeting({ nonce: newNonce(), proof: "0".repeat(64), version: VERSION, active: "0" }));
  await withImpostor(guess, async (socket, received) => {
    const failure = await openSession(socket, TOKEN).catch((e) => e);
    assert(failure instanceof SessionFailure && failure.kind === "impostor", String(failure));
    assertMatch(failure.message, /could not prove that it knows your ghcpw token/);
    // Everything it received is the one greeting, whose properties are these and no more.
    const [hello, ...rest] = received();
    assertEquals(rest.filter((c) => c.length > 0), []);
    const properties = decodeClientMessage({ type: FrameType.Hello, payload: hello }, "greeting", ["hello"])
      .properties;
    assertEquals(Object.keys(properties).sort(), ["nonce", "pid", "protocol", "version"]);
    assert(isNonce(properties.nonce));
    // Its proof for the right token would not have helped it either: it cannot make one without it.
    assert(!new TextDecoder().decode(hello).includes(TOKEN));
  });
});

Deno.test("a server of another protocol is told nothing and reported as such", async () => {
  // What a server of protocol 3 answers a greeting without a token.
  const old = () =>
    frameBytes({
      kind: "failure",
      message: "protocol mismatch: this server speaks protocol 3",
      reason: "protocol",
    });
  await withImpostor(old, async (socket, received) => {
    const failure = await openSession(socket, TOKEN).catch((e) => e);
    assert(failure instanceof SessionFailure && failure.kind === "protocol", String(failure));
    assertEquals(received().length, 1);
  });
});

Deno.test("sockets: only the user's own, in directories no one else can swap them in", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "gpw-trust-" });
  const listen = (path: string) => Deno.listen({ transport: "unix", path });
  const refused = (path: string, message: RegExp) => {
    let e: unknown = null;
    try {
      checkSocket(path);
    } catch (thrown) {
      e = thrown;
    }
    assert(e instanceof UntrustedSocket, `${path}: ${e}`);
    assertMatch(e.message, message);
  };
  try {
    await t.step("a private directory, and a sticky shared one", async () => {
      const own = listen(`${root}/own.sock`);
      assertEquals(checkSocket(`${root}/own.sock`), `${await Deno.realPath(root)}/own.sock`);
      await Deno.mkdir(`${root}/shared`);
      await Deno.chmod(`${root}/shared`, 0o1777);
      const shared = listen(`${root}/shared/s.sock`);
      assert(checkSocket(`${root}/shared/s.sock`) !== null);
      own.close();
      shared.close();
    });
    await t.step("nothing there, or no such directory", () => {
      assertEquals(checkSocket(`${root}/none.sock`), null);
      assertEquals(checkSocket(`${root}/no/such/dir/s.sock`), null);
    });
    await t.step("a directory others may write, not sticky", async () => {
      await Deno.mkdir(`${root}/open`);
      await Deno.chmod(`${root}/open`, 0o777);
      const l = listen(`${root}/open/s.sock`);
      refused(
        `${root}/open/s.sock`,
        /open, on the way to the socket .* can be written by other users \(mode 0777\)/,
      );
      await Deno.chmod(`${root}/open`, 0o775);
      refused(`${root}/open/s.sock`, /mode 0775/);
      l.close();
    });
    await t.step("a symbolic link, or not a socket", async () => {
      const l = listen(`${root}/real.sock`);
      await Deno.symlink(`${root}/real.sock`, `${root}/link.sock`);
      refused(`${root}/link.sock`, /is a symbolic link/);
      await Deno.writeTextFile(`${root}/file.sock`, "");
      refused(`${root}/file.sock`, /is not a socket/);
      l.close();
    });
    await t.step("another user's socket or directory", async () => {
      if (Deno.uid() !== 0) return; // only root can give files away
      await Deno.mkdir(`${root}/sticky`);
      await Deno.chmod(`${root}/sticky`, 0o1777);
      const l = listen(`${root}/sticky/s.sock`);
      await Deno.chown(`${root}/sticky/s.sock`, 65534, 65534);
      refused(`${root}/sticky/s.sock`, /belongs to uid 65534, not to you/);
      await Deno.mkdir(`${root}/theirs`);
      const m = listen(`${root}/theirs/s.sock`);
      await Deno.chown(`${root}/theirs`, 65534, 65534);
      refused(`${root}/theirs/s.sock`, /theirs, on the way to the socket .* belongs to uid 65534/);
      l.close();
      m.close();
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
