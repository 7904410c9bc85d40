/**
 * Fuzzing the socket: over ten thousand connections, each with malformed, truncated or oversized frames
 * — random bytes, cut-off greetings, absurd lengths, unknown types, wrong proofs, garbage requests after
 * a good handshake, unknown control commands, clients that vanish mid-frame. The server must answer each
 * with an error or a close, never crash, keep its memory bounded, and compile correctly afterwards.
 */

import { concat } from "../support/bytes.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { startServer, testToken } from "../support/helpers.ts";
import { assertHealthy, statusOf } from "../support/service.ts";
import { encodeFrame } from "../../lib/wire/frame.ts";
import { encodeProperties, encodeText } from "../../lib/wire/fields.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import { encodeClientMessage, PROTOCOL_VERSION } from "../../lib/wire/client_protocol.ts";
import { greetByHand, rawConnect } from "../support/raw_client.ts";
import { VERSION } from "../../lib/version.ts";
import { Environment } from "../../lib/process/environment.ts";

const CONNECTIONS = 10_000;
const CONCURRENCY = 16;

/** A small deterministic generator (Park–Miller), so a failure can be replayed. */
function generator(seed: number) {
  let state = seed;
  const next = () => (state = (state * 48271) % 2147483647);
  return {
    int: (n: number) => next() % n,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

function header(length: number, type: number): Uint8Array {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(0, length);
  out[4] = type;
  return out;
}

/**
 * How a connection starts: at once with the malformed bytes, or after a handshake run by hand whose proof
 * (of the right token, or of a wrong one) goes ahead of them.
 */
type Opening = "raw" | "proof" | "wrong-proof";

/** One malformed connection: how it opens, its bytes, and whether the client vanishes without reading. */
function malformed(
  random: ReturnType<typeof generator>,
): { opening: Opening; bytes: Uint8Array; vanish: boolean } {
  const greeting = encodeFrame(
    FrameType.Hello,
    encodeProperties({ protocol: String(PROTOCOL_VERSION), version: VERSION, nonce: "0".repeat(64) }),
  );
  const request = encodeFrame(
    FrameType.Request,
    encodeClientMessage({
      kind: "request",
      request: {
        argv: ["-c", "X.hs"],
        env: Environment.fromRecord({}),
        cwd: "/",
        stderrIsTerminal: false,
        mergedOutput: false,
        umask: 0o022,
      },
    }).payload,
  );
  const vanish = random.int(10) === 0;
  const raw = (bytes: Uint8Array) => ({ opening: "raw" as const, bytes, vanish });
  const proved = (bytes: Uint8Array) => ({ opening: "proof" as const, bytes, vanish });
  switch (random.int(12)) {
    case 0: // random bytes
      return raw(random.bytes(1 + random.int(300)));
    case 1: // a greeting cut anywhere
      return raw(greeting.slice(0, random.int(greeting.length)));
    case 2: // a length far beyond any limit, with a little of the promised payload
      return raw(concat(header(0x10000 + random.int(0x7fff0000), 1), random.bytes(random.int(64))));
    case 3: // length zero, or a type only
      return raw(random.int(2) ? header(0, 1).slice(0, 4) : header(1, random.int(256)));
    case 4: // a well-framed greeting whose payload is garbage
      return raw(encodeFrame(FrameType.Hello, random.bytes(random.int(200))));
    case 5: // an unknown frame type first
      return raw(encodeFrame(11 + random.int(240), random.bytes(random.int(100))));
    case 6: // a wrong proof, then a valid request
      return { opening: "wrong-proof", bytes: request, vanish };
    case 7: // a good handshake, then a garbage request
      return proved(encodeFrame(FrameType.Request, random.bytes(random.int(500))));
    case 8: // a good handshake, then a request beyond the request limit
      return proved(header(0x1000001 + random.int(0x1000000), FrameType.Request));
    case 9: // a good handshake, then a request cut short
      return proved(request.slice(0, 1 + random.int(request.length - 1)));
    case 10: // a good handshake, then an unknown control command, or a frame of the wrong kind
      return proved(
        random.int(2)
          ? encodeFrame(FrameType.Control, encodeText(`cmd${random.int(1000)}`))
          : encodeFrame(FrameType.Exit, random.bytes(8)),
      );
    default: // a large garbage greeting within the greeting limit, or a large garbage request after a handshake
      return random.int(2)
        ? raw(encodeFrame(FrameType.Hello, random.bytes(16_000 + random.int(40_000))))
        : proved(encodeFrame(FrameType.Request, random.bytes(100_000 + random.int(400_000))));
  }
}

/**
 * Opens a connection as `opening` says, sends `bytes`, then reads until the server closes (or vanishes
 * at once).
 */
async function send(
  socket: string,
  token: string,
  { opening, bytes, vanish }: { opening: Opening; bytes: Uint8Array; vanish: boolean },
): Promise<void> {
  const raw = await rawConnect(socket);
  const conn = raw.conn;
  try {
    if (opening !== "raw") {
      bytes = concat(await greetByHand(raw, opening === "proof" ? token : "f".repeat(64)), bytes);
    }
    await conn.write(bytes).catch(() => {});
    if (vanish) return;
    await conn.closeWrite().catch(() => {});
    const buffer = new Uint8Array(4096);
    const deadline = setTimeout(() => conn.close(), 15_000);
    try {
      while (await conn.read(buffer).catch(() => null) !== null);
    } finally {
      clearTimeout(deadline);
    }
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the deadline
    }
  }
}

Deno.test(`${CONNECTIONS} malformed, truncated and oversized frames: the server survives, bounded`, async () => {
  const server = await startServer(["-n", "1"]);
  try {
    await assertHealthy(server.socket, 1);
    const memory = async () => {
      const status = await statusOf(server.socket);
      return { rss: status.rssBytes as number, heap: status.heapUsedBytes as number };
    };
    const before = await memory();
    const token = await testToken();
    const random = generator(20241122);
    // Resident memory after each thousand connections.
    const samples: number[] = [];
    let started = 0;
    let finished = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (started < CONNECTIONS) {
        started++;
        await send(server.socket, token, malformed(random));
        if (++finished % 1000 === 0) samples.push((await memory()).rss);
      }
    }));
    const after = await memory();
    // deno-lint-ignore no-explicit-any
    const status = await statusOf(server.socket) as any;
    assert(status.server.connections >= CONNECTIONS, `only ${status.server.connections} connections arrived`);
    const rejected = status.totals.rejectedConnections;
    assert(rejected >= CONNECTIONS * 0.8, `only ${rejected} connections were rejected`);
    assertEquals(status.totals.requests, 1, "a malformed request was served");
    // Bounded: what the allocator keeps after the first bursts of large frames, and no growth with the
    // number of connections after that (a leak of even 2 KiB per connection would show as 10 MiB).
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    const half = Math.floor(samples.length / 2);
    const firstHalf = Math.max(...samples.slice(0, half));
    const secondHalf = Math.max(...samples.slice(half), after.rss);
    const trace = `resident MiB: ${[before.rss, ...samples, after.rss].map(mib).join(" ")}`;
    assert(mib(secondHalf - before.rss) < 160, `resident memory grew too much; ${trace}`);
    assert(mib(secondHalf - firstHalf) < 48, `resident memory kept growing; ${trace}`);
    assert(mib(after.heap) < 64, `the JavaScript heap holds ${mib(after.heap)} MiB`);
    await assertHealthy(server.socket, 1);
  } finally {
    await server.stop();
  }
});
