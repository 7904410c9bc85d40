import { assert, assertEquals } from "../support/assert.ts";
import { Environment } from "../../lib/process/environment.ts";
import { decodeClientMessage, encodeClientMessage } from "../../lib/wire/client_protocol.ts";
import { decodeToWorker, encodeToWorker } from "../../lib/wire/worker_protocol.ts";

const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p));

/** NAME=VALUE with a value that is not UTF-8. */
const NOT_UTF8 = bytes("RAW=", [0xff, 0xfe], "x");

Deno.test("an environment keeps bytes that are not UTF-8, each name once, as getenv sees it", () => {
  const env = Environment.fromEntries([
    NOT_UTF8,
    bytes("A=1"),
    bytes("A=2"),
    bytes("AB=3"),
    bytes("=no name"),
    bytes("no equals sign"),
    bytes("EMPTY="),
  ]);
  assertEquals(env.entries, [NOT_UTF8, bytes("A=1"), bytes("AB=3"), bytes("EMPTY=")]);
  assertEquals([env.get("A"), env.get("AB"), env.get("EMPTY"), env.get("MISSING")], [
    "1",
    "3",
    "",
    undefined,
  ]);
  // For decisions only: the bytes themselves travel untouched.
  assertEquals(env.get("RAW"), "\ufffd\ufffdx");
  assertEquals(env.toRecord(), null);
  assertEquals(env.own, false);
  assertEquals(Environment.fromEntries([bytes("A=1"), bytes("B=x=y")]).toRecord(), { A: "1", B: "x=y" });
  assertEquals(Environment.fromRecord({ A: "1", B: "" }).entries, [bytes("A=1"), bytes("B=")]);
});

Deno.test("this process's environment is read whole and marked as its own", () => {
  const env = Environment.ofThisProcess();
  assert(env.own);
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    assertEquals([name, env.get(name)], [name, value]);
  }
});

Deno.test("environments cross both protocols byte for byte", () => {
  const env = Environment.fromEntries([NOT_UTF8, bytes("LANG=C.UTF-8")]);
  const request = {
    argv: ["-c", "A.hs"],
    env,
    cwd: "/",
    stderrIsTerminal: false,
    mergedOutput: false,
    umask: 0o022,
  };
  const client = decodeClientMessage(encodeClientMessage({ kind: "request", request }), "r", ["request"]);
  assertEquals(client.request.env.entries, env.entries);
  const worker = decodeToWorker(
    encodeToWorker({ kind: "request", request: { ...request, mode: ["c"], args: [], tmpDir: "/t" } }),
  );
  assertEquals(worker.request.env.entries, env.entries);
});
