/**
 * Unit tests of the service's small parts: durations, versions, tokens, keys, the bounded log file
 * (asking a real ghc for its identity is tests/system/ghc_identity_test.ts).
 */

import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { parseDuration } from "../../lib/duration.ts";
import { getBoundedFileSink } from "../../lib/log/log_file.ts";
import { checkPrivateDir, ensureRuntimeDir, UnsafeRuntimeDir } from "../../lib/address/runtime_dir.ts";
import {
  compareVersions,
  keyedSocketPath,
  serverKey,
  versionedSocketPath,
} from "../../lib/address/server_key.ts";
import { ensureToken, readToken, sameSecret } from "../../lib/address/token.ts";
import type { LogRecord } from "@logtape/logtape";

Deno.test("durations: seconds by default, or with a unit", () => {
  assertEquals(parseDuration("90", "--x"), 90_000);
  assertEquals(parseDuration("1.5s", "--x"), 1500);
  assertEquals(parseDuration("15m", "--x"), 900_000);
  assertEquals(parseDuration("2h", "--x"), 7_200_000);
  assertEquals(parseDuration("0", "--x"), 0);
  for (const bad of ["", "1x", "-1", "h"]) {
    let threw = false;
    try {
      parseDuration(bad, "--x");
    } catch {
      threw = true;
    }
    assert(threw, `${JSON.stringify(bad)} was accepted`);
  }
});

Deno.test("versions compare by number, not as text", () => {
  assert(compareVersions("0.9.0", "0.10.0") < 0);
  assert(compareVersions("1.0.0", "0.99.9") > 0);
  assertEquals(compareVersions("0.1.0", "0.1.0"), 0);
  assert(compareVersions("0.1", "0.1.1") < 0);
});

Deno.test("tokens: created once, 0600, shared by racing processes; compared exactly", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.chmod(dir, 0o700);
  assertEquals(readToken(dir), null);
  const tokens = await Promise.all(Array.from({ length: 8 }, () => ensureToken(dir)));
  assertEquals(new Set(tokens).size, 1);
  assertEquals((await Deno.stat(`${dir}/token`)).mode! & 0o777, 0o600);
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["token"]);
  assert(sameSecret(tokens[0], tokens[0]));
  assert(!sameSecret(tokens[0].replace(/.$/, (c) => c === "0" ? "1" : "0"), tokens[0]));
  assert(!sameSecret(undefined, tokens[0]));
  assert(!sameSecret(tokens[0].slice(1), tokens[0]));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the runtime directory is created private, and checked", async () => {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/ghcpw`;
  assertEquals(await ensureRuntimeDir(dir), dir);
  assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
  await Deno.chmod(dir, 0o750);
  await assertRejects(() => checkPrivateDir(dir), UnsafeRuntimeDir);
  await Deno.remove(parent, { recursive: true });
});

Deno.test("the server key follows the GHC and the package databases; sockets are named by it", async () => {
  const identity = { realPath: "/opt/ghc/bin/ghc-9.0.2", version: "9.0.2", libdir: "/opt/ghc/lib" };
  const key = await serverKey(identity, { packageDbs: [] });
  assertEquals(key.length, 16);
  assertEquals(await serverKey({ ...identity }, { packageDbs: [] }), key);
  assert(key !== await serverKey(identity, { packageDbs: ["db"] }));
  assert(key !== await serverKey({ ...identity, libdir: "/elsewhere" }, { packageDbs: [] }));
  assert(key !== await serverKey({ ...identity, realPath: "/usr/bin/ghc" }, { packageDbs: [] }));
  assertEquals(keyedSocketPath("/run/g", identity, key), `/run/g/ghc-9.0.2-${key}.sock`);
  assertEquals(versionedSocketPath("/run/g/x.sock", "1.2.3"), "/run/g/x.v1.2.3.sock");
});

Deno.test("the log file is rotated at its limit, keeping one old file", async () => {
  const dir = await Deno.makeTempDir();
  const sink = getBoundedFileSink(`${dir}/logs/server.log`, { maxBytes: 2000 });
  for (let i = 0; i < 100; i++) {
    sink({
      category: ["ghcpw", "test"],
      level: "info",
      message: [`record ${i} `, "x".repeat(50)],
      rawMessage: `record ${i}`,
      properties: {},
      timestamp: Date.now(),
    } as LogRecord);
  }
  sink[Symbol.dispose]();
  const files = [...Deno.readDirSync(`${dir}/logs`)].map((e) => e.name).sort();
  assertEquals(files, ["server.log", "server.log.1"]);
  for (const f of files) assert((await Deno.stat(`${dir}/logs/${f}`)).size <= 2000);
  assert((await Deno.readTextFile(`${dir}/logs/server.log`)).includes("record 99"));
  assertEquals((await Deno.stat(`${dir}/logs/server.log`)).mode! & 0o777, 0o600);
  await Deno.remove(dir, { recursive: true });
});
