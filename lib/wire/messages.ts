/**
 * The frame type numbers of both protocols, in one table (the Haskell side, FrameType in
 * lib/plugin/Ghcpw/Frame.hs, is checked against it by tests/unit/plugin_contract_test.ts), and the
 * mapping between a protocol's messages and frames: each protocol (lib/wire/client_protocol.ts,
 * lib/wire/worker_protocol.ts) is a {@linkcode Codec}, one entry per message kind, so it reads whole.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import { decodeProperties, encodeProperties, ProtocolError } from "./fields.ts";

/** Frame types. Numbers 1–7 travel to and from workers; the others on the client socket only. */
export const FrameType = {
  Hello: 1,
  Request: 2,
  Stdout: 3,
  Stderr: 4,
  Exit: 5,
  Failure: 6,
  /** From a worker: this invocation must run on the real ghc (nothing has been printed yet). */
  Defer: 7,
  /** From a client: a control command instead of a compile request (status, stop, stop-if-idle). */
  Control: 8,
  /** From the server: the answer to a control command, as JSON. */
  ControlReply: 9,
  /** From a client: its half of the handshake (lib/wire/handshake.ts), ahead of its request. */
  Proof: 10,
} as const;

/** Name of a frame type, for error messages. */
export function frameTypeName(type: number): string {
  return Object.entries(FrameType).find(([, v]) => v === type)?.[0] ?? `unknown type ${type}`;
}

/** A message of a protocol: plain data, told apart by `kind`. */
export type Message = { kind: string };

/** How each kind of message `M` travels: its frame type, and its payload's encoding both ways. */
export type Codec<M extends Message> = {
  [K in M["kind"]]: {
    type: number;
    encode(message: Extract<M, { kind: K }>): Uint8Array;
    decode(payload: Uint8Array): Extract<M, { kind: K }>;
  };
};

/** The frame carrying `message`. */
export function encodeWith<M extends Message>(codec: Codec<M>, message: M): Frame {
  const entry = codec[message.kind as M["kind"]];
  return { type: entry.type, payload: entry.encode(message as never) };
}

/**
 * The message a frame carries, which must be one of the `expected` kinds: the frame type is checked
 * before the payload is read, so an out-of-order frame is named as such however malformed it is.
 * `what` names the expectation in the error.
 */
export function decodeWith<M extends Message, K extends M["kind"]>(
  codec: Codec<M>,
  frame: Frame,
  what: string,
  expected: readonly K[],
): Extract<M, { kind: K }> {
  for (const kind of expected) {
    const entry = codec[kind];
    if (entry.type === frame.type) return entry.decode(frame.payload) as Extract<M, { kind: K }>;
  }
  throw new ProtocolError(`expected ${what}, got a ${frameTypeName(frame.type)} frame`);
}

/** A message of `key=value` properties of frame type `type`, such as the greeting both protocols open with. */
export function propertiesEntry<K extends string>(kind: K, type: number): {
  type: number;
  encode(m: { properties: Record<string, string> }): Uint8Array;
  decode(payload: Uint8Array): { kind: K; properties: Record<string, string> };
} {
  return {
    type,
    encode: (m) => encodeProperties(m.properties),
    decode: (payload) => ({ kind, properties: decodeProperties(payload) }),
  };
}

/** The greeting both protocols open with: `key=value` properties, protocol version first. */
export const helloEntry = propertiesEntry("hello", FrameType.Hello);

/** A chunk of GHC's stdout or stderr, which both protocols carry as it is. */
export function outputEntry<K extends "stdout" | "stderr">(kind: K): {
  type: number;
  encode(m: { chunk: Uint8Array }): Uint8Array;
  decode(chunk: Uint8Array): { kind: K; chunk: Uint8Array };
} {
  return {
    type: kind === "stdout" ? FrameType.Stdout : FrameType.Stderr,
    encode: (m) => m.chunk,
    decode: (chunk) => ({ kind, chunk }),
  };
}
