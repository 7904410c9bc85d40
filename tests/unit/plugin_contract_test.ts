/**
 * The contract between the TypeScript side and the Haskell plugin, read from the plugin's source and
 * cabal file as text: frame type numbers, the worker protocol version, the modules the plugin build
 * compiles, and the packages it needs. Either side changing alone fails here, not in a worker at run time.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import {
  encodeToWorker,
  encodeWorkerMessage,
  WORKER_PROTOCOL_VERSION,
  type WorkerMessage,
} from "../../lib/wire/worker_protocol.ts";
import {
  OPTIONAL_PACKAGES,
  PLUGIN_C_SOURCES,
  PLUGIN_MODULE,
  PLUGIN_SOURCES,
  REQUIRED_PACKAGES,
} from "../../lib/plugin/build.ts";
import { Environment } from "../../lib/process/environment.ts";

const PLUGIN = new URL("../../lib/plugin/", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, PLUGIN));

/** Haskell source without comments (a commented-out line must not count). */
function code(source: string): string {
  return source.replace(/\{-[\s\S]*?-\}/g, "").replace(/--.*$/gm, "");
}

/** `typeCode Constructor = N` equations of Frame.hs, the one place of the numbers on the Haskell side. */
function haskellFrameTypes(): Map<string, number> {
  const frame = code(read("Ghcpw/Frame.hs"));
  const constructors = /^data FrameType\s*=\s*([^\n]+)/m.exec(frame)?.[1].split("|").map((c) => c.trim());
  assert(constructors !== undefined, "no `data FrameType` in Frame.hs");
  const numbers = new Map(
    [...frame.matchAll(/^typeCode\s+(\w+)\s*=\s*(\d+)\s*$/gm)].map(([, name, n]) => [name, Number(n)]),
  );
  assertEquals(
    [...numbers.keys()].sort(),
    [...constructors].sort(),
    "every FrameType constructor has one number",
  );
  return numbers;
}

Deno.test("frame type numbers agree between lib/wire/messages.ts and Frame.hs", () => {
  const haskell = haskellFrameTypes();
  for (const [name, n] of haskell) {
    assertEquals(FrameType[name as keyof typeof FrameType], n, `FrameType ${name}`);
  }
  // Every type the worker protocol uses, one sample message of each kind (the record keeps it complete).
  const samples: Record<WorkerMessage["kind"], WorkerMessage> = {
    hello: { kind: "hello", properties: {} },
    stdout: { kind: "stdout", chunk: new Uint8Array() },
    stderr: { kind: "stderr", chunk: new Uint8Array() },
    exit: { kind: "exit", code: 0, facts: {} },
    defer: { kind: "defer", reason: "" },
    failure: { kind: "failure", message: "" },
  };
  const request = {
    mode: [],
    args: [],
    cwd: "/",
    tmpDir: "/",
    env: Environment.fromRecord({}),
    stderrIsTerminal: false,
    mergedOutput: false,
    umask: 0o022,
  };
  const used = [
    ...Object.values(samples).map((m) => encodeWorkerMessage(m).type),
    encodeToWorker({ kind: "request", request }).type,
  ];
  const known = new Set(haskell.values());
  for (const type of used) {
    assert(known.has(type), `frame type ${type} of the worker protocol is not in Frame.hs`);
  }
});

Deno.test("the worker protocol version agrees with GhcpwPlugin.hs", () => {
  const version = /^protocolVersion\s*=\s*B8\.pack\s+"(\d+)"\s*$/m.exec(code(read("GhcpwPlugin.hs")))?.[1];
  assertEquals(version, String(WORKER_PROTOCOL_VERSION));
});

/** The fields of the cabal file's library stanza: name to values, each value with whether an `if` holds it. */
function cabalFields(text: string): Map<string, { value: string; conditional: boolean }[]> {
  const fields = new Map<string, { value: string; conditional: boolean }[]>();
  let current: { value: string; conditional: boolean }[] | null = null;
  let fieldIndent = -1;
  const conditions: number[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/--.*$/, "");
    if (line.trim() === "") continue;
    const indent = line.length - line.trimStart().length;
    if (current !== null && indent > fieldIndent) {
      current.push({ value: line.trim(), conditional: conditions.length > 0 });
      continue;
    }
    current = null;
    while (conditions.length > 0 && indent <= conditions[conditions.length - 1]) conditions.pop();
    if (/^\s*(if|else)\b/.test(line)) {
      conditions.push(indent);
      continue;
    }
    const field = /^\s*([\w-]+)\s*:\s*(.*)$/.exec(line);
    if (field === null) continue;
    const name = field[1].toLowerCase();
    current = fields.get(name) ?? [];
    fields.set(name, current);
    fieldIndent = indent;
    if (field[2].trim() !== "") current.push({ value: field[2].trim(), conditional: conditions.length > 0 });
  }
  return fields;
}

/** The items of list fields: split at commas and white space (modules) or commas (dependencies). */
function items(values: { value: string }[] | undefined, separator: RegExp): string[] {
  return (values ?? []).flatMap((v) => v.value.split(separator)).map((s) => s.trim()).filter((s) => s !== "");
}

Deno.test("the plugin build compiles exactly the modules of the cabal file", () => {
  const fields = cabalFields(read("ghcpw-plugin.cabal"));
  const cabal = [
    ...items(fields.get("exposed-modules"), /[\s,]+/),
    ...items(fields.get("other-modules"), /[\s,]+/),
  ];
  assertEquals(PLUGIN_SOURCES.map(([name]) => name).sort(), cabal.sort());
  assert(cabal.includes(PLUGIN_MODULE), `${PLUGIN_MODULE} is not in the cabal file`);
  // Each source is the module it is compiled as.
  for (const [name, source] of PLUGIN_SOURCES) {
    assertEquals(/^module\s+([\w.]+)/m.exec(code(source))?.[1], name);
  }
});

Deno.test("the plugin build compiles exactly the C sources of the cabal file", () => {
  const cabal = items(cabalFields(read("ghcpw-plugin.cabal")).get("c-sources"), /[\s,]+/);
  assertEquals(PLUGIN_C_SOURCES.map(([path]) => path).sort(), cabal.sort());
  for (const [path, source] of PLUGIN_C_SOURCES) assertEquals(source, read(path));
});

Deno.test("the packages the plugin build requires are the cabal file's build-depends", () => {
  const depends = cabalFields(read("ghcpw-plugin.cabal")).get("build-depends") ?? [];
  const names = (conditional: boolean) =>
    items(depends.filter((d) => d.conditional === conditional), /,/).map((d) => /^[\w-]+/.exec(d)![0]).sort();
  assertEquals([...REQUIRED_PACKAGES].sort(), names(false));
  assertEquals([...OPTIONAL_PACKAGES].sort(), names(true));
});
