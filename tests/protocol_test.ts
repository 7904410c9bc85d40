import { assert, assertEquals } from "./assert.ts";
import {
  decodeCompileRequest,
  decodeFields,
  decodeProperties,
  encodeCompileRequest,
  encodeFields,
  encodeProperties,
  fieldText,
  ProtocolError,
} from "../lib/protocol.ts";

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
