/**
 * The payload encoding both of ghcpw's protocols use (lib/wire/client_protocol.ts,
 * lib/wire/worker_protocol.ts): a list of fields, each field a list of byte strings, every count and length
 * 4-byte big-endian, so arguments and environment values pass through as bytes with no quoting rules.
 * The Haskell side is encodeFields/decodeFields in lib/plugin/Ghcpw/Frame.hs.
 *
 * @module
 */

/** A peer broke the protocol: bad payload, unexpected message, version mismatch. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a list of fields; strings are written as UTF-8. */
export function encodeFields(fields: readonly (readonly (string | Uint8Array)[])[]): Uint8Array {
  const items = fields.map((field) => field.map((x) => typeof x === "string" ? encoder.encode(x) : x));
  const size = 4 + items.reduce((n, field) => n + 4 + field.reduce((m, x) => m + 4 + x.length, 0), 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const u32 = (n: number) => {
    view.setUint32(at, n);
    at += 4;
  };
  u32(items.length);
  for (const field of items) {
    u32(field.length);
    for (const x of field) {
      u32(x.length);
      out.set(x, at);
      at += x.length;
    }
  }
  return out;
}

/** Decodes a list of fields, rejecting any payload that is not exactly one well-formed list. */
export function decodeFields(payload: Uint8Array): Uint8Array[][] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  const u32 = () => {
    if (at + 4 > payload.length) throw new ProtocolError("malformed payload: truncated count");
    const n = view.getUint32(at);
    at += 4;
    return n;
  };
  const fieldCount = u32();
  const fields: Uint8Array[][] = [];
  for (let i = 0; i < fieldCount; i++) {
    const count = u32();
    // Every item takes at least 4 bytes, which bounds counts without trusting them.
    if (count > (payload.length - at) / 4) throw new ProtocolError("malformed payload: count too large");
    const field: Uint8Array[] = [];
    for (let j = 0; j < count; j++) {
      const length = u32();
      if (at + length > payload.length) throw new ProtocolError("malformed payload: truncated item");
      field.push(payload.subarray(at, at + length));
      at += length;
    }
    fields.push(field);
  }
  if (at !== payload.length) throw new ProtocolError("malformed payload: trailing bytes");
  return fields;
}

/** Decodes every item of a field as UTF-8 text. */
export function fieldText(field: Uint8Array[] | undefined): string[] {
  return (field ?? []).map((x) => decoder.decode(x));
}

/** Encodes `key=value` properties, as greetings carry them. */
export function encodeProperties(properties: Record<string, string>): Uint8Array {
  return encodeFields([environmentEntries(properties)]);
}

/** Decodes `key=value` properties. */
export function decodeProperties(payload: Uint8Array): Record<string, string> {
  const [field] = decodeFields(payload);
  return parseEnvironment(fieldText(field));
}

/** Turns a record into `KEY=VALUE` entries, as environments and properties travel. */
export function environmentEntries(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Turns `KEY=VALUE` entries into a record (the first `=` separates). */
export function parseEnvironment(entries: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Encodes a one-item text (an exit code, a failure's or a deferral's message). */
export function encodeText(text: string): Uint8Array {
  return encodeFields([[text]]);
}

/** Decodes the text of a payload's first field (its items joined by newlines). */
export function decodeText(payload: Uint8Array): string {
  return fieldText(decodeFields(payload)[0]).join("\n");
}

/** Reads an exit code, refusing anything that is not an integer. */
export function exitCode(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n)) {
    throw new ProtocolError(`malformed exit code ${JSON.stringify(text)}`);
  }
  return n;
}

/** A file-creation mask as it travels: octal text, as `umask` prints it (`0022`). */
export function umaskText(mask: number): string {
  return mask.toString(8).padStart(4, "0");
}

/** Reads a file-creation mask written by {@linkcode umaskText}, refusing anything else. */
export function parseUmask(text: string | undefined): number {
  if (text === undefined || !/^[0-7]{1,4}$/.test(text) || Number.parseInt(text, 8) > 0o777) {
    throw new ProtocolError(`malformed umask ${JSON.stringify(text)}`);
  }
  return Number.parseInt(text, 8);
}
