import { assert, assertEquals } from "../support/assert.ts";
import {
  CONTROL_COMMANDS,
  decodeCompileRequest,
  decodeControl,
  decodeControlReply,
  decodeFailure,
  decodeFields,
  decodeProperties,
  encodeCompileRequest,
  encodeControl,
  encodeControlReply,
  encodeFailure,
  encodeFields,
  encodeHello,
  encodeMessage,
  encodeProperties,
  fieldText,
  PROTOCOL_VERSION,
  ProtocolError,
} from "../../lib/wire/protocol.ts";
import { VERSION } from "../../lib/version.ts";

function throwsProtocolError(f: () => unknown): boolean {
  try {
    f();
  } catch (e) {
    return e instanceof ProtocolError;
  }
  return false;
}

Deno.test("fields round-trip, including empty fields, empty items and non-ASCII text", () => {
  const fields = [[], [""], ["a", "ü ‘quoted’", "x=y=z"], [new Uint8Array([0, 255, 10])]];
  const decoded = decodeFields(encodeFields(fields));
  assertEquals(decoded.length, 4);
  assertEquals(fieldText(decoded[2]), ["a", "ü ‘quoted’", "x=y=z"]);
  assertEquals([...decoded[3][0]], [0, 255, 10]);
  assertEquals(decoded[1].map((x) => x.length), [0]);
});

Deno.test("a compile request round-trips with its environment and terminal flag", () => {
  const request = {
    argv: ["-c", "A B.hs", "@args", ""],
    env: { PATH: "/usr/bin", EMPTY: "", WITH_EQ: "a=b" },
    cwd: "/work/x y",
    stderrIsTerminal: true,
  };
  assertEquals(decodeCompileRequest(encodeCompileRequest(request)), request);
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
    assert(throwsProtocolError(() => decodeFields(good.slice(0, cut))), `cut at ${cut}`);
  }
  const padded = new Uint8Array(good.length + 1);
  padded.set(good);
  assert(throwsProtocolError(() => decodeFields(padded)));
  // A count claiming four billion items in a tiny payload must fail fast, not allocate.
  assert(throwsProtocolError(() => decodeFields(new Uint8Array([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]))));
});

Deno.test("a request missing a field is refused", () => {
  assert(throwsProtocolError(() => decodeCompileRequest(encodeFields([["/"], ["-c"]]))));
  assert(throwsProtocolError(() => decodeCompileRequest(encodeFields([["/", "/"], [], [], ["0"]]))));
});

Deno.test("a greeting carries the protocol and ghcpw versions and the pid, then the sender's own", () => {
  assertEquals(decodeProperties(encodeHello({ key: "k", token: "t" })), {
    protocol: String(PROTOCOL_VERSION),
    version: VERSION,
    pid: String(Deno.pid),
    key: "k",
    token: "t",
  });
});

Deno.test("control commands and replies round-trip; an unknown command is refused", () => {
  for (const command of CONTROL_COMMANDS) assertEquals(decodeControl(encodeControl(command)), command);
  assert(throwsProtocolError(() => decodeControl(encodeMessage("reboot"))));
  assertEquals(decodeControlReply(encodeControlReply({ stopping: true, pid: 7 })), {
    stopping: true,
    pid: 7,
  });
});

Deno.test("a failure's message and kind are read back; a peer that gives no kind gives none", () => {
  assertEquals(decodeFailure(encodeFailure("too slow", "timeout")), { message: "too slow", kind: "timeout" });
  assertEquals(decodeFailure(encodeMessage("no")), { message: "no", kind: undefined });
});
