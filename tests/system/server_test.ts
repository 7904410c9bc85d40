/** The server refuses bad clients with a clear error and goes on serving good ones. */

import { concat } from "../support/bytes.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { project } from "../support/fixtures.ts";
import { GHC, ghcpw, startServer, testToken, writeTree } from "../support/helpers.ts";
import { encodeFrame } from "../../lib/wire/frame.ts";
import { realExecutablePath } from "../../lib/ghc/installation.ts";
import { encodeProperties } from "../../lib/wire/fields.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import {
  decodeServerMessage,
  encodeClientMessage,
  PROTOCOL_VERSION,
} from "../../lib/wire/client_protocol.ts";
import { MessageStream } from "../../lib/wire/stream.ts";
import { VERSION } from "../../lib/version.ts";

/** Sends raw bytes, ends the connection's writing side, and returns the server's Failure message. */
async function sendRaw(socket: string, bytes: Uint8Array): Promise<string | null> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const stream = new MessageStream(conn.readable, conn.writable);
  await conn.write(bytes).catch(() => {});
  await conn.closeWrite().catch(() => {});
  try {
    for (let frame = await stream.read(); frame !== null; frame = await stream.read()) {
      if (frame.type === FrameType.Failure) {
        return decodeServerMessage(frame, "a failure", ["failure"]).message;
      }
    }
    return null;
  } catch {
    return null;
  } finally {
    try {
      conn.close();
    } catch {
      // the server closed it first
    }
  }
}

Deno.test("bad frames and bad handshakes get an error; the server keeps serving", async (t) => {
  const server = await startServer();
  const token = await testToken();
  const greeting = (extra: Record<string, string> = {}) =>
    encodeFrame(
      FrameType.Hello,
      encodeProperties({ protocol: String(PROTOCOL_VERSION), version: VERSION, token, ...extra }),
    );
  const request = encodeFrame(
    FrameType.Request,
    encodeClientMessage({
      kind: "request",
      request: { argv: ["--numeric-version"], env: {}, cwd: "/", stderrIsTerminal: false },
    }).payload,
  );
  try {
    await t.step("a length beyond the limit", async () => {
      const message = await sendRaw(server.socket, new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
      assertMatch(message ?? "", /exceeds the limit/);
    });
    await t.step("a request before the greeting", async () => {
      assertMatch(
        await sendRaw(server.socket, encodeFrame(FrameType.Request)) ?? "",
        /expected the client's greeting/,
      );
    });
    await t.step("another protocol version", async () => {
      const hello = encodeFrame(FrameType.Hello, encodeProperties({ protocol: "999", version: "9.9.9" }));
      assertMatch(await sendRaw(server.socket, hello) ?? "", /protocol mismatch.*speaks 999/);
    });
    await t.step("no token, or a wrong one", async () => {
      const anonymous = encodeFrame(
        FrameType.Hello,
        encodeProperties({ protocol: String(PROTOCOL_VERSION), version: VERSION }),
      );
      assertMatch(
        await sendRaw(server.socket, concat(anonymous, request)) ?? "",
        /refused: the client sent no token/,
      );
      const wrong = greeting({ token: "0".repeat(64) });
      assertMatch(await sendRaw(server.socket, concat(wrong, request)) ?? "", /refused: wrong token/);
    });
    await t.step("a malformed request", async () => {
      const malformed = encodeFrame(FrameType.Request, new Uint8Array([0, 0, 0, 9]));
      assertMatch(await sendRaw(server.socket, concat(greeting(), malformed)) ?? "", /malformed/);
    });
    await t.step("a client asking for another ghc, or another key", async () => {
      assertMatch(
        await sendRaw(server.socket, concat(greeting({ ghc: "/opt/other/ghc" }), request)) ?? "",
        /the client asked for \/opt\/other\/ghc/,
      );
      assertMatch(
        await sendRaw(
          server.socket,
          concat(greeting({ ghc: realExecutablePath(GHC), key: "0123" }), request),
        ) ?? "",
        /the client's is 0123/,
      );
    });
    await t.step("a client of another ghcpw version", async () => {
      assertMatch(
        await sendRaw(server.socket, concat(greeting({ version: "0.0.1" }), request)) ?? "",
        /version mismatch: this server is ghcpw .*, the client is ghcpw 0\.0\.1/,
      );
    });
    await t.step("garbage, then a client that vanishes mid-frame", async () => {
      let seed = 7;
      for (let i = 0; i < 200; i++) {
        const garbage = Uint8Array.from(
          { length: 1 + i % 64 },
          () => (seed = (seed * 48271) % 2147483647) & 0xff,
        );
        await sendRaw(server.socket, garbage);
      }
      const conn = await Deno.connect({ transport: "unix", path: server.socket });
      await conn.write(encodeFrame(FrameType.Hello, new Uint8Array(100)).slice(0, 20));
      conn.close();
    });
    await t.step("a real compile still succeeds", async () => {
      const dir = await Deno.makeTempDir();
      await writeTree(dir, project());
      const r = await ghcpw(server.socket, ["-c", "Shapes/Types.hs"], dir);
      assertEquals(r.code, 0, r.stderr);
      assert((await Deno.stat(`${dir}/Shapes/Types.hi`)).isFile);
    });
  } finally {
    await server.stop();
  }
});
