import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  decodeFields,
  decodeProperties,
  encodeFields,
  encodeProperties,
  encodeText,
  fieldText,
  ProtocolError,
} from "../../lib/wire/fields.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import {
  type ClientMessage,
  CONTROL_COMMANDS,
  decodeClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  encodeServerMessage,
  greeting,
  PROTOCOL_VERSION,
  type ServerMessage,
} from "../../lib/wire/client_protocol.ts";
import {
  decodeToWorker,
  decodeWorkerMessage,
  encodeToWorker,
  encodeWorkerMessage,
  type WorkerMessage,
} from "../../lib/wire/worker_protocol.ts";
import { VERSION } from "../../lib/version.ts";
import { Environment } from "../../lib/process/environment.ts";

function protocolError(f: () => unknown): string | null {
  try {
    f();
  } catch (e) {
    return e instanceof ProtocolError ? e.message : null;
  }
  return null;
}

const clientKinds = ["hello", "proof", "request", "control"] as const;
const serverKinds = ["hello", "stdout", "stderr", "exit", "failure", "control-reply"] as const;
const workerKinds = ["hello", "stdout", "stderr", "exit", "defer", "failure"] as const;

Deno.test("fields round-trip, including empty fields, empty items and non-ASCII text", () => {
  const fields = [[], [""], ["a", "ü ‘quoted’", "x=y=z"], [new Uint8Array([0, 255, 10])]];
  const decoded = decodeFields(encodeFields(fields));
  assertEquals(decoded.length, 4);
  assertEquals(fieldText(decoded[2]), ["a", "ü ‘quoted’", "x=y=z"]);
  assertEquals([...decoded[3][0]], [0, 255, 10]);
  assertEquals(decoded[1].map((x) => x.length), [0]);
});

Deno.test("properties round-trip and ignore entries without a key", () => {
  assertEquals(decodeProperties(encodeProperties({ protocol: "1", ghc: "/usr/bin/ghc" })), {
    protocol: "1",
    ghc: "/usr/bin/ghc",
  });
  assertEquals(decodeProperties(encodeFields([["=x", "k=v", "novalue"]])), { k: "v" });
});

Deno.test("truncated, padded and lying payloads are refused", () => {
  const good = encodeFields([["abc", "de"], ["f"]]);
  for (let cut = 0; cut < good.length; cut++) {
    assert(protocolError(() => decodeFields(good.slice(0, cut))) !== null, `cut at ${cut}`);
  }
  const padded = new Uint8Array(good.length + 1);
  padded.set(good);
  assert(protocolError(() => decodeFields(padded)) !== null);
  // A count claiming four billion items in a tiny payload must fail fast, not allocate.
  assert(protocolError(() => decodeFields(new Uint8Array([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]))) !== null);
});

Deno.test("every client and server message round-trips through its frame", () => {
  const client: ClientMessage[] = [
    { kind: "hello", properties: { nonce: "n" } },
    { kind: "proof", properties: { proof: "p", ghc: "/usr/bin/ghc", key: "k" } },
    {
      kind: "request",
      request: {
        argv: ["-c", "A B.hs", "@args", ""],
        env: Environment.fromRecord({ PATH: "/usr/bin", EMPTY: "", WITH_EQ: "a=b" }),
        cwd: "/work/x y",
        stderrIsTerminal: true,
        mergedOutput: true,
        umask: 0o077,
      },
    },
    ...CONTROL_COMMANDS.map((command) => ({ kind: "control" as const, command })),
  ];
  for (const m of client) assertEquals(decodeClientMessage(encodeClientMessage(m), "m", clientKinds), m);
  const server: ServerMessage[] = [
    { kind: "hello", properties: { key: "k", active: "0" } },
    { kind: "stdout", chunk: new Uint8Array([1, 2]) },
    { kind: "stderr", chunk: new Uint8Array([]) },
    { kind: "exit", code: -3 },
    { kind: "failure", message: "too slow\nreally", reason: "timeout" },
    { kind: "control-reply", reply: { stopping: true, pid: 7 } },
  ];
  for (const m of server) assertEquals(decodeServerMessage(encodeServerMessage(m), "m", serverKinds), m);
});

Deno.test("messages keep their bytes on the wire", () => {
  const u32 = (n: number) => [0, 0, 0, n];
  const text = (s: string) => [...u32(s.length), ...new TextEncoder().encode(s)];
  const exit = encodeServerMessage({ kind: "exit", code: 1 });
  assertEquals(exit.type, FrameType.Exit);
  assertEquals([...exit.payload], [...u32(1), ...u32(1), ...text("1")]);
  const failure = encodeServerMessage({ kind: "failure", message: "no", reason: "auth" });
  assertEquals([...failure.payload], [...u32(2), ...u32(1), ...text("no"), ...u32(1), ...text("auth")]);
  const control = encodeClientMessage({ kind: "control", command: "stop" });
  assertEquals([control.type, ...control.payload], [
    FrameType.Control,
    ...u32(1),
    ...u32(1),
    ...text("stop"),
  ]);
  const request = encodeClientMessage({
    kind: "request",
    request: {
      argv: ["-c"],
      env: Environment.fromRecord({ A: "b" }),
      cwd: "/",
      stderrIsTerminal: false,
      mergedOutput: false,
      umask: 0o022,
    },
  });
  assertEquals(request.payload, encodeFields([["/"], ["-c"], ["A=b"], ["0"], ["0"], ["0022"]]));
  const reply = encodeServerMessage({ kind: "control-reply", reply: { a: 1 } });
  assertEquals(new TextDecoder().decode(reply.payload), '{"a":1}');
});

Deno.test("a frame of another kind than expected is named before its payload is read", () => {
  const emptyRequest = { type: FrameType.Request, payload: new Uint8Array() };
  assertEquals(
    protocolError(() => decodeClientMessage(emptyRequest, "the client's greeting", ["hello"])),
    "expected the client's greeting, got a Request frame",
  );
  assertMatch(
    protocolError(() => decodeServerMessage({ type: 77, payload: new Uint8Array() }, "output", serverKinds))!,
    /unknown type 77/,
  );
  // A server never sends a Request, nor a worker a Control, whatever the number.
  assert(protocolError(() => decodeServerMessage(emptyRequest, "m", serverKinds)) !== null);
  assert(
    protocolError(() =>
      decodeWorkerMessage({ type: FrameType.Control, payload: encodeText("stop") }, "m", workerKinds)
    ) !== null,
  );
});

Deno.test("a request missing a field or with a bad umask, an unknown control command and a bad exit code are refused", () => {
  const request = (payload: Uint8Array) => ({ type: FrameType.Request, payload });
  assertMatch(
    protocolError(() => decodeClientMessage(request(encodeFields([["/"], ["-c"]])), "r", ["request"]))!,
    /malformed request/,
  );
  assert(
    protocolError(() =>
      decodeClientMessage(request(encodeFields([["/", "/"], [], [], ["0"], ["0"], ["0022"]])), "r", [
        "request",
      ])
    ) !== null,
  );
  for (const umask of ["", "8", "1000", "-1", "0x12", "22 "]) {
    assertMatch(
      protocolError(() =>
        decodeClientMessage(request(encodeFields([["/"], [], [], ["0"], ["0"], [umask]])), "r", ["request"])
      )!,
      /malformed umask/,
      umask,
    );
  }
  assertMatch(
    protocolError(() =>
      decodeClientMessage({ type: FrameType.Control, payload: encodeText("reboot") }, "c", ["control"])
    )!,
    /unknown control command "reboot"/,
  );
  assertMatch(
    protocolError(() =>
      decodeServerMessage({ type: FrameType.Exit, payload: encodeText("x") }, "e", ["exit"])
    )!,
    /malformed exit code/,
  );
});

Deno.test("a greeting carries the protocol and ghcpw versions and the pid, then the sender's own", () => {
  assertEquals(greeting({ key: "k", nonce: "n" }).properties, {
    protocol: String(PROTOCOL_VERSION),
    version: VERSION,
    pid: String(Deno.pid),
    key: "k",
    nonce: "n",
  });
});

Deno.test("a failure from a peer that gives no reason has none", () => {
  assertEquals(
    decodeServerMessage({ type: FrameType.Failure, payload: encodeText("no") }, "f", ["failure"]),
    { kind: "failure", message: "no", reason: undefined },
  );
});

Deno.test("worker messages round-trip; a request travels in the plugin's field order", () => {
  const request = {
    mode: ["-c"],
    args: ["-O", "A.hs"],
    cwd: "/w",
    tmpDir: "/tmp/r",
    env: Environment.fromRecord({ HOME: "/h" }),
    stderrIsTerminal: false,
    mergedOutput: true,
    umask: 0o002,
  };
  const frame = encodeToWorker({ kind: "request", request });
  assertEquals(frame.type, FrameType.Request);
  assertEquals(
    frame.payload,
    encodeFields([["-c"], ["/w"], ["/tmp/r"], ["-O", "A.hs"], ["HOME=/h"], ["0"], ["1"], ["0002"]]),
  );
  assertEquals(decodeToWorker(frame), { kind: "request", request });
  const messages: WorkerMessage[] = [
    { kind: "hello", properties: { protocol: "1", ghc: "9.0.2" } },
    { kind: "stdout", chunk: new Uint8Array([3]) },
    { kind: "stderr", chunk: new Uint8Array([4]) },
    { kind: "exit", code: 0, facts: { "interfaces-resumed": "12" } },
    { kind: "defer", reason: "--make with hooks" },
    { kind: "failure", message: "malformed request" },
  ];
  for (const m of messages) assertEquals(decodeWorkerMessage(encodeWorkerMessage(m), "m", workerKinds), m);
  // As the plugin sends it: the code, then one field per fact.
  const exit = { type: FrameType.Exit, payload: encodeFields([["1"], ["interfaces-resumed=3"], ["x=y"]]) };
  assertEquals(decodeWorkerMessage(exit, "e", ["exit"]), {
    kind: "exit",
    code: 1,
    facts: { "interfaces-resumed": "3", x: "y" },
  });
});
