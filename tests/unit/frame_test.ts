import { chunked, chunkedSource, concat } from "../support/bytes.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { encodeFrame, FrameError, FrameReader, type FrameReaderOptions } from "../../lib/wire/frame.ts";

/** A reader of each kind over the same bytes: from a stream (pipes), and from a connection. */
function readers(bytes: Uint8Array, sizes: number[], options?: FrameReaderOptions): FrameReader[] {
  return [
    new FrameReader(chunked(bytes, sizes), options),
    new FrameReader(chunkedSource(bytes, sizes), options),
  ];
}

async function readAll(reader: FrameReader) {
  const frames = [];
  for (let f = await reader.read(); f !== null; f = await reader.read()) frames.push(f);
  return frames;
}

Deno.test("frames survive being split at every byte", async () => {
  const bytes = concat(
    encodeFrame(1, new Uint8Array([1, 2, 3])),
    encodeFrame(4),
    encodeFrame(255, new Uint8Array(70)),
  );
  for (const reader of readers(bytes, [1])) {
    const frames = await readAll(reader);
    assertEquals(frames.map((f) => [f.type, f.payload.length]), [[1, 3], [4, 0], [255, 70]]);
    assertEquals([...frames[0].payload], [1, 2, 3]);
  }
});

Deno.test("frames merged into one chunk and split across chunks read the same", async () => {
  const payloads = Array.from({ length: 50 }, (_, i) => new Uint8Array(i * 37).fill(i));
  const bytes = concat(...payloads.map((p, i) => encodeFrame(i % 7 + 1, p)));
  for (const sizes of [[bytes.length], [3, 1000, 7], [4096]]) {
    for (const reader of readers(bytes, sizes)) {
      const frames = await readAll(reader);
      assertEquals(frames.length, 50);
      frames.forEach((f, i) => {
        assertEquals(f.type, i % 7 + 1);
        assertEquals(f.payload, payloads[i]);
      });
    }
  }
});

Deno.test("a 48 MiB frame arrives intact through small chunks", async () => {
  const payload = new Uint8Array(48 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
  for (const reader of readers(encodeFrame(3, payload), [65536, 13])) {
    const frames = await readAll(reader);
    assertEquals(frames.length, 1);
    assert(frames[0].payload.every((b, i) => b === payload[i]));
  }
});

Deno.test("a stream ending inside a frame is an error, not a short frame", async () => {
  const frame = encodeFrame(2, new Uint8Array(100));
  for (const cut of [2, 5, 50, frame.length - 1]) {
    for (const reader of readers(frame.slice(0, cut), [7])) {
      await assertRejects(() => readAll(reader), FrameError);
    }
  }
});

Deno.test("oversized lengths are refused before any payload is buffered", async () => {
  const header = new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1]);
  for (const reader of readers(header, [5], { maxFrameBytes: 1024 })) {
    await assertRejects(
      () => reader.read(),
      (e: Error) => e instanceof FrameError && /exceeds the limit/.test(e.message),
    );
  }
});

Deno.test("a zero length is refused", async () => {
  await assertRejects(() => new FrameReader(chunked(new Uint8Array(4), [4])).read(), FrameError);
});

Deno.test("random garbage never yields a frame larger than the limit or hangs", async () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 500; i++) {
    const garbage = Uint8Array.from({ length: 1 + (i * 7) % 200 }, random);
    for (const reader of readers(garbage, [1 + i % 9], { maxFrameBytes: 4096 })) {
      try {
        for (let f = await reader.read(); f !== null; f = await reader.read()) {
          assert(f.payload.length < 4096);
        }
      } catch (e) {
        assert(e instanceof FrameError, String(e));
      }
    }
  }
});

Deno.test("encodeFrame rejects types that are not a byte", () => {
  for (const t of [-1, 256, 1.5]) {
    let threw = false;
    try {
      encodeFrame(t);
    } catch (e) {
      threw = e instanceof RangeError;
    }
    assert(threw, `type ${t}`);
  }
});
