/**
 * Bazel's worker protocol without Bazel: framing of both encodings across arbitrary reads, detection of
 * the encoding, response encoding, the worker loop's multiplexing and cancellation, and flagfiles.
 * The JSON inputs are written the way Bazel 4.2.3's printer writes them (captured from a real build):
 * no whitespace, `=` escaped as \u003d, digests in base64, requests back to back.
 */

import { chunked, concat } from "../support/bytes.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  BazelProtocolError,
  decodeResponse,
  detectProtocol,
  encodeRequest,
  encodeResponse,
  MessageSplitter,
  RequestReader,
  type WorkRequest,
  workRequest,
  type WorkResponse,
  workResponse,
} from "../../lib/bazel/protocol.ts";
import { serveBazelWorker, type WorkHandler } from "../../lib/bazel/worker.ts";
import { expandFlagfiles, isFlagfileArgument } from "../../lib/bazel/flagfile.ts";

const encoder = new TextEncoder();

async function readAll(reader: RequestReader): Promise<WorkRequest[]> {
  const out = [];
  for (let r = await reader.read(); r !== null; r = await reader.read()) out.push(r);
  return out;
}

const REQUESTS = [
  workRequest({
    arguments: ["-c", "-package-env=-", "-odir", "bazel-out/k8-fastbuild/bin/app/_ghc", "app/Ünï.hs"],
    inputs: [{ path: "app/Ünï.hs", digest: encoder.encode("734237d24ba20beef3d6") }],
    requestId: 1,
  }),
  // Long enough for a two-byte varint length.
  workRequest({ arguments: Array.from({ length: 40 }, (_, i) => `-iroot/${i}`), requestId: 2 }),
  workRequest({ requestId: 1, cancel: true }),
];

// Two requests as Bazel 4.2.3 sends them in JSON mode: back to back, no newline.
const BAZEL_4_JSON = '{"arguments":["-c","-package-env\\u003d-","-i","app/Shapes/Types.hs"],' +
  '"inputs":[{"path":"app/Shapes/Types.hs","digest":"NzM0MjM3ZDI0YmEy"}],"requestId":1}' +
  '{"arguments":["-o","bazel-out/k8-fastbuild/bin/app/app","{\\"}\\\\","x}{y"],"requestId":2}';

Deno.test("proto requests survive being split at every byte", async () => {
  const bytes = concat(...REQUESTS.map((r) => encodeRequest("proto", r)));
  for (const sizes of [[1], [2, 3], [bytes.length]]) {
    assertEquals(await readAll(new RequestReader(chunked(bytes, sizes), "proto")), REQUESTS);
  }
});

Deno.test("JSON requests back to back (Bazel 4.2.3) split at every byte", async () => {
  const bytes = encoder.encode(BAZEL_4_JSON);
  for (const sizes of [[1], [5, 7], [bytes.length]]) {
    const requests = await readAll(new RequestReader(chunked(bytes, sizes), "json"));
    assertEquals(requests.map((r) => r.requestId), [1, 2]);
    assertEquals(requests[0].arguments, ["-c", "-package-env=-", "-i", "app/Shapes/Types.hs"]);
    assertEquals(new TextDecoder().decode(requests[0].inputs[0].digest), "734237d24ba2");
    assertEquals(requests[1].arguments, ["-o", "bazel-out/k8-fastbuild/bin/app/app", '{"}\\', "x}{y"]);
  }
});

Deno.test("JSON requests separated by newlines (later Bazels), with unknown fields", async () => {
  const lines = REQUESTS.map((r) => new TextDecoder().decode(encodeRequest("json", r)));
  lines[1] = lines[1].replace(/}$/, ',"someFutureField":{"a":[1,2]}}');
  const bytes = encoder.encode(lines.join("\n") + "\r\n\n");
  for (const sizes of [[1], [3, 11]]) {
    assertEquals(await readAll(new RequestReader(chunked(bytes, sizes), "json")), REQUESTS);
  }
});

Deno.test("the encoding is detected from the first bytes", async () => {
  assertEquals(detectProtocol(new Uint8Array()), null);
  assertEquals(detectProtocol(encoder.encode("{")), null);
  assertEquals(detectProtocol(encoder.encode('{"arguments":[]}')), "json");
  assertEquals(detectProtocol(encoder.encode("{}")), "json");
  // A proto request of 123 bytes also starts with "{", followed by a field tag.
  assertEquals(detectProtocol(new Uint8Array([0x7b, 0x0a])), "proto");
  assertEquals(detectProtocol(encodeRequest("proto", REQUESTS[0])), "proto");

  const big = workRequest({ arguments: ["x".repeat(121)] });
  assertEquals(encodeRequest("proto", big)[0], 0x7b);
  for (const [bytes, protocol] of [[encodeRequest("proto", big), "proto"], [BAZEL_4_JSON, "json"]] as const) {
    const stream = chunked(typeof bytes === "string" ? encoder.encode(bytes) : bytes, [1]);
    const reader = new RequestReader(stream);
    assertEquals(reader.protocol, null);
    assert((await reader.read()) !== null);
    assertEquals(reader.protocol, protocol);
  }
});

Deno.test("truncated or malformed input is a protocol error", async () => {
  const proto = encodeRequest("proto", REQUESTS[1]);
  await assertRejects(
    () => readAll(new RequestReader(chunked(proto.subarray(0, proto.length - 1), [4]), "proto")),
    BazelProtocolError,
  );
  await assertRejects(
    () => readAll(new RequestReader(chunked(encoder.encode('{"arguments":["a"'), [4]), "json")),
    BazelProtocolError,
  );
  await assertRejects(
    () => readAll(new RequestReader(chunked(encoder.encode('{"arguments":3}'), [4]), "json")),
    BazelProtocolError,
  );
  await assertRejects(
    () => readAll(new RequestReader(chunked(encoder.encode("[1]"), [4]), "json")),
    BazelProtocolError,
  );
});

Deno.test("responses: camelCase JSON that always has exitCode; length-prefixed proto", () => {
  const ok = workResponse({ exitCode: 0, output: "", requestId: 0 });
  assertEquals(new TextDecoder().decode(encodeResponse("json", ok)), '{"exitCode":0}\n');
  const failed = workResponse({ exitCode: 1, output: "A.hs:1:1: error\n", requestId: 7 });
  assertEquals(
    JSON.parse(new TextDecoder().decode(encodeResponse("json", failed))),
    { exitCode: 1, output: "A.hs:1:1: error\n", requestId: 7 },
  );
  const cancelled = workResponse({ requestId: 3, wasCancelled: true });
  assertEquals(
    JSON.parse(new TextDecoder().decode(encodeResponse("json", cancelled))),
    { exitCode: 0, requestId: 3, wasCancelled: true },
  );
  const bytes = encodeResponse("proto", failed);
  const splitter = new MessageSplitter("proto");
  splitter.push(bytes);
  assertEquals(decodeResponse("proto", splitter.next()!), failed);
  assertEquals(splitter.pending, false);
});

/** Runs the worker loop over the given input and returns every chunk it wrote, decoded. */
async function runWorker(
  protocol: "proto" | "json",
  requests: WorkRequest[],
  handle: WorkHandler,
  options: { detect?: boolean; cwd?: string } = {},
): Promise<WorkResponse[]> {
  const chunks: Uint8Array[] = [];
  const output = new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) });
  await serveBazelWorker({
    input: chunked(concat(...requests.map((r) => encodeRequest(protocol, r))), [5]),
    output,
    protocol: options.detect ? undefined : protocol,
    handle,
    cwd: options.cwd,
  });
  // One write per response: each chunk must be exactly one whole response.
  return chunks.map((chunk) => {
    if (protocol === "json") return decodeResponse("json", chunk);
    const splitter = new MessageSplitter("proto");
    splitter.push(chunk);
    const message = splitter.next();
    assert(message !== null && !splitter.pending, "a write held other than exactly one response");
    return decodeResponse("proto", message);
  });
}

const delay = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

for (const protocol of ["proto", "json"] as const) {
  Deno.test(`${protocol}: multiplex requests run concurrently and are answered as they finish`, async () => {
    const delays: Record<string, number> = { a: 150, b: 10, c: 60 };
    let running = 0;
    let most = 0;
    const responses = await runWorker(
      protocol,
      ["a", "b", "c"].map((name, i) => workRequest({ arguments: [name], requestId: i + 1 })),
      async (request) => {
        most = Math.max(most, ++running);
        await delay(delays[request.arguments[0]]);
        running--;
        return { exitCode: request.requestId === 3 ? 1 : 0, output: `done ${request.arguments[0]}\n` };
      },
      { detect: true },
    );
    assertEquals(most, 3);
    assertEquals(responses.map((r) => [r.requestId, r.exitCode, r.output]), [
      [2, 0, "done b\n"],
      [3, 1, "done c\n"],
      [1, 0, "done a\n"],
    ]);
  });

  Deno.test(`${protocol}: singleplex requests (id 0) are answered in order`, async () => {
    const responses = await runWorker(
      protocol,
      [workRequest({ arguments: ["x"] }), workRequest({ arguments: ["y"] })],
      (request) => Promise.resolve({ exitCode: 0, output: request.arguments[0] }),
    );
    assertEquals(responses.map((r) => [r.requestId, r.output]), [[0, "x"], [0, "y"]]);
  });

  Deno.test(`${protocol}: a cancelled request is answered once, with wasCancelled`, async () => {
    const aborted: number[] = [];
    const responses = await runWorker(
      protocol,
      [
        workRequest({ arguments: ["slow"], requestId: 1 }),
        workRequest({ arguments: ["ignores cancel"], requestId: 2 }),
        workRequest({ arguments: ["fast"], requestId: 3 }),
        workRequest({ requestId: 1, cancel: true }),
        workRequest({ requestId: 2, cancel: true }),
        workRequest({ requestId: 1, cancel: true }), // twice
        workRequest({ requestId: 9, cancel: true }), // never sent
      ],
      async (request, signal) => {
        signal.addEventListener("abort", () => aborted.push(request.requestId));
        if (request.arguments[0] === "slow") await delay(10_000, signal);
        if (request.arguments[0] === "ignores cancel") await delay(50);
        return { exitCode: 0, output: "finished" };
      },
    );
    assertEquals(aborted.sort(), [1, 2]);
    const byId = new Map(responses.map((r) => [r.requestId, r]));
    assertEquals(responses.length, 3);
    assertEquals(byId.get(1)?.wasCancelled, true);
    assertEquals(byId.get(2)?.wasCancelled, true);
    assertEquals(byId.get(3)?.wasCancelled, false);
    assertEquals(byId.get(3)?.output, "finished");
  });

  Deno.test(`${protocol}: a cancel after the response is ignored; a failing handler gives exit 1`, async () => {
    const responses = await runWorker(
      protocol,
      [
        workRequest({ arguments: ["boom"], requestId: 4 }),
        workRequest({ arguments: ["ok"], requestId: 5 }),
      ],
      async (request) => {
        await delay(1);
        if (request.arguments[0] === "boom") throw new Error("cannot start ghc");
        return { exitCode: 0, output: "" };
      },
    );
    assertEquals(responses.map((r) => [r.requestId, r.exitCode, r.output]), [
      [4, 1, "ghcpw: cannot start ghc\n"],
      [5, 0, ""],
    ]);
  });
}

Deno.test("the worker stops with an error when stdin breaks the protocol", async () => {
  const output = new WritableStream<Uint8Array>();
  await assertRejects(
    () =>
      serveBazelWorker({
        input: chunked(encoder.encode('{"arguments":["a"]}{"arg'), [100]),
        output,
        protocol: "json",
        handle: () => Promise.resolve({ exitCode: 0, output: "" }),
      }),
    BazelProtocolError,
  );
});

Deno.test("flagfiles are read as Bazel reads them: one argument per line, recursively", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-flagfile-" });
  try {
    await Deno.writeTextFile(`${dir}/a.params`, "-c\n-i\n@inner.params\n@@literal\n@repo//x:y\nwith space\n");
    await Deno.writeTextFile(`${dir}/inner.params`, "-o\r\nout dir/A.o\r\n\r\nlast");
    assertEquals(await expandFlagfiles(["first", "@a.params"], dir), [
      "first",
      "-c",
      "-i",
      "-o",
      "out dir/A.o",
      "",
      "last",
      "@@literal",
      "@repo//x:y",
      "with space",
    ]);
    assertEquals(isFlagfileArgument("@x.params"), true);
    assertEquals(isFlagfileArgument("--flagfile=x.params"), true);
    assertEquals(isFlagfileArgument("--ghc"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a request is served in its sandbox directory, resolved against the worker's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-sandbox-" });
  try {
    await Deno.mkdir(`${dir}/__sandbox/1/_main`, { recursive: true });
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.writeTextFile(`${dir}/plain-file`, "");
    const seen: [number, string][] = [];
    const responses = await runWorker(
      "proto",
      [
        workRequest({ arguments: ["a"], requestId: 1 }),
        workRequest({ arguments: ["b"], requestId: 2, sandboxDir: "__sandbox/1/_main" }),
        workRequest({ arguments: ["c"], requestId: 3, sandboxDir: `${dir}/elsewhere` }),
        workRequest({ arguments: ["d"], requestId: 4, sandboxDir: "__sandbox/2/_main" }),
        workRequest({ arguments: ["e"], requestId: 5, sandboxDir: "plain-file" }),
      ],
      (request, _signal, cwd) => {
        seen.push([request.requestId, cwd]);
        return Promise.resolve({ exitCode: 0, output: "" });
      },
      { cwd: dir },
    );
    assertEquals(seen.sort(), [[1, dir], [2, `${dir}/__sandbox/1/_main`], [3, `${dir}/elsewhere`]]);
    const failed = new Map(responses.filter((r) => r.exitCode !== 0).map((r) => [r.requestId, r.output]));
    assertEquals(
      failed.get(4),
      `ghcpw: the request's sandbox directory "__sandbox/2/_main" (${dir}/__sandbox/2/_main) does not exist\n`,
    );
    assertEquals(
      failed.get(5),
      `ghcpw: the request's sandbox directory "plain-file" (${dir}/plain-file) is not a directory\n`,
    );
    assertEquals(responses.length, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
