/** The server refuses bad clients with a clear error and goes on serving good ones. */

import { concat } from "../support/bytes.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { project } from "../support/fixtures.ts";
import { GHC, ghcpw, startServer, testToken, writeTree } from "../support/helpers.ts";
import { finishRaw, greetByHand, helloFrame, rawConnect } from "../support/raw_client.ts";
import { encodeFrame } from "../../lib/wire/frame.ts";
import { realExecutablePath } from "../../lib/ghc/installation.ts";
import { encodeProperties } from "../../lib/wire/fields.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import { encodeClientMessage } from "../../lib/wire/client_protocol.ts";
import { VERSION } from "../../lib/version.ts";
import { Environment } from "../../lib/process/environment.ts";

/** Sends raw bytes on a fresh connection and returns the server's Failure message. */
async function sendRaw(socket: string, bytes: Uint8Array): Promise<string | null> {
  return await finishRaw(await rawConnect(socket), bytes);
}

/**
 * Runs the handshake by hand (see greetByHand), then sends the proof frame through `next` (which may
 * replace or extend it) and returns the server's Failure message.
 */
async function afterGreeting(
  socket: string,
  next: (proof: Uint8Array) => Uint8Array,
  options: { token?: string; proof?: Record<string, string>; hello?: Record<string, string> } = {},
): Promise<string | null> {
  const raw = await rawConnect(socket);
  const proof = await greetByHand(raw, options.token ?? await testToken(), options.proof, options.hello);
  return await finishRaw(raw, next(proof));
}

Deno.test("bad frames and bad handshakes get an error; the server keeps serving", async (t) => {
  const server = await startServer();
  const request = encodeFrame(
    FrameType.Request,
    encodeClientMessage({
      kind: "request",
      request: {
        argv: ["--numeric-version"],
        env: Environment.fromRecord({}),
        cwd: "/",
        stderrIsTerminal: false,
        mergedOutput: false,
        umask: 0o022,
      },
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
    await t.step("another protocol version, or protocol 3's greeting with a token", async () => {
      const hello = encodeFrame(FrameType.Hello, encodeProperties({ protocol: "999", version: "9.9.9" }));
      assertMatch(await sendRaw(server.socket, hello) ?? "", /protocol mismatch.*speaks 999/);
      // Refused before the server greets: it has nothing to prove itself with to such a client.
      const old = encodeFrame(
        FrameType.Hello,
        encodeProperties({ protocol: "3", version: VERSION, token: await testToken() }),
      );
      assertMatch(await sendRaw(server.socket, concat(old, request)) ?? "", /protocol mismatch.*speaks 3/);
    });
    await t.step("no nonce, a wrong proof, no proof", async () => {
      assertMatch(await sendRaw(server.socket, helloFrame()) ?? "", /greeting carries no valid nonce/);
      assertMatch(
        await sendRaw(server.socket, helloFrame({ nonce: "ab".repeat(31) })) ?? "",
        /greeting carries no valid nonce/,
      );
      assertMatch(
        await afterGreeting(server.socket, (proof) => concat(proof, request), { token: "0".repeat(64) }) ??
          "",
        /refused: the client could not prove that it knows the token/,
      );
      assertMatch(
        await afterGreeting(server.socket, () => encodeFrame(FrameType.Proof, encodeProperties({}))) ?? "",
        /refused: the client could not prove that it knows the token/,
      );
      assertMatch(
        await afterGreeting(server.socket, () => request) ?? "",
        /expected the client's proof, got a Request frame/,
      );
    });
    await t.step("a malformed request", async () => {
      const malformed = encodeFrame(FrameType.Request, new Uint8Array([0, 0, 0, 9]));
      assertMatch(await afterGreeting(server.socket, (proof) => concat(proof, malformed)) ?? "", /malformed/);
    });
    await t.step("a client asking for another ghc, or another key", async () => {
      assertMatch(
        await afterGreeting(server.socket, (proof) => concat(proof, request), {
          proof: { ghc: "/opt/other/ghc" },
        }) ?? "",
        /the client asked for \/opt\/other\/ghc/,
      );
      assertMatch(
        await afterGreeting(server.socket, (proof) => concat(proof, request), {
          proof: { ghc: realExecutablePath(GHC), key: "0123" },
        }) ?? "",
        /the client's is 0123/,
      );
    });
    await t.step("a client of another ghcpw version", async () => {
      assertMatch(
        await afterGreeting(server.socket, (proof) => concat(proof, request), {
          hello: { version: "0.0.1" },
        }) ?? "",
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
