/**
 * The protocol between a client (lib/client/client.ts, lib/client/control.ts) and the server
 * (lib/server/server.ts) on the unix socket. Both ends encode and decode here, so they cannot disagree.
 *
 * A connection starts with a handshake in which each end proves that it knows the user's token without
 * sending it (lib/wire/handshake.ts): a Hello from the client with its nonce, a Hello from the server with
 * its nonce and proof, then a Proof from the client. Hellos and the Proof carry `key=value` properties,
 * a Hello the protocol version first. Behind its Proof the client sends one Request and receives Stdout
 * and Stderr chunks, then one Exit (or a Failure), or sends one Control command and receives one
 * ControlReply.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import {
  decodeFields,
  decodeText,
  encodeFields,
  encodeText,
  exitCode,
  fieldText,
  parseUmask,
  ProtocolError,
  umaskText,
} from "./fields.ts";
import { Environment } from "../process/environment.ts";
import {
  type Codec,
  decodeWith,
  encodeWith,
  FrameType,
  helloEntry,
  outputEntry,
  propertiesEntry,
} from "./messages.ts";
import { VERSION } from "../version.ts";

/**
 * Version of the client/server protocol; a peer with another version is refused in the handshake.
 * 2: the client's greeting carries the token and the server key; control requests (status, stop).
 * 3: a request says whether the client's stdout and stderr are one file.
 * 4: the token never travels: a challenge–response (lib/wire/handshake.ts), the server proving itself
 * first; the client's ghc and server key move to its Proof. A request carries the client's umask.
 */
export const PROTOCOL_VERSION = 4;

/** One GHC invocation as a client asks for it: exactly what `ghc` would have seen. */
export interface CompileRequest {
  /** Arguments after `ghc`, as given (response files not yet expanded). */
  argv: string[];
  /** The complete environment, as bytes. */
  env: Environment;
  /** Absolute working directory. */
  cwd: string;
  /** Whether the client's stderr is a terminal (decides colours, as it does for ghc). */
  stderrIsTerminal: boolean;
  /**
   * Whether the client's stdout and stderr are the same file (`2>&1`, one terminal, one build log): GHC's
   * output then comes back as one stream, on stdout, in the order GHC wrote it.
   */
  mergedOutput: boolean;
  /** The client's file-creation mask, which everything the invocation creates gets, as with ghc. */
  umask: number;
}

/** The control commands a client may send instead of a compile request. */
export const CONTROL_COMMANDS = ["status", "stop", "stop-if-idle"] as const;

/** One of {@linkcode CONTROL_COMMANDS}. */
export type ControlCommand = typeof CONTROL_COMMANDS[number];

/**
 * Why the server refused or abandoned a request, carried in a Failure so that a client can act on it:
 * "auth" (the client could not prove that it knows the token), "version" (another ghcpw version), "key"
 * (another GHC or settings), "timeout" (the request timeout killed the compile), "fallback" (only the
 * client can run this invocation exactly: it must run ghc itself), "protocol" (another protocol version,
 * or anything else malformed), "internal".
 */
export type FailureKind = "auth" | "version" | "key" | "timeout" | "fallback" | "protocol" | "internal";

/**
 * What a client sends: its greeting (its nonce), its proof (with the ghc and server key it wants), then a
 * compile request or a control command.
 */
export type ClientMessage =
  | { kind: "hello"; properties: Record<string, string> }
  | { kind: "proof"; properties: Record<string, string> }
  | { kind: "request"; request: CompileRequest }
  | { kind: "control"; command: ControlCommand };

/**
 * What the server sends: its greeting, then GHC's output and exit code, or the answer to a control
 * command; or at any point a failure (`reason` undefined for a peer that does not say).
 */
export type ServerMessage =
  | { kind: "hello"; properties: Record<string, string> }
  | { kind: "stdout"; chunk: Uint8Array }
  | { kind: "stderr"; chunk: Uint8Array }
  | { kind: "exit"; code: number }
  | { kind: "failure"; message: string; reason?: FailureKind }
  | { kind: "control-reply"; reply: Record<string, unknown> };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const clientCodec: Codec<ClientMessage> = {
  hello: helloEntry,
  proof: propertiesEntry("proof", FrameType.Proof),
  request: {
    type: FrameType.Request,
    // The fields in their fixed order: cwd, argv, environment, terminal flag, merged-output flag, umask.
    encode: ({ request }) =>
      encodeFields([
        [request.cwd],
        request.argv,
        request.env.entries,
        [request.stderrIsTerminal ? "1" : "0"],
        [request.mergedOutput ? "1" : "0"],
        [umaskText(request.umask)],
      ]),
    decode: (payload) => {
      const fields = decodeFields(payload);
      if (fields.length !== 6 || [0, 3, 4, 5].some((i) => fields[i].length !== 1)) {
        throw new ProtocolError(
          "malformed request: expected cwd, argv, environment, terminal, merged-output and umask fields",
        );
      }
      const [[cwd], argv, , [tty], [merged], [umask]] = fields.map(fieldText);
      return {
        kind: "request",
        request: {
          cwd,
          argv,
          env: Environment.fromEntries(fields[2]),
          stderrIsTerminal: tty === "1",
          mergedOutput: merged === "1",
          umask: parseUmask(umask),
        },
      };
    },
  },
  control: {
    type: FrameType.Control,
    encode: ({ command }) => encodeText(command),
    // A command this side does not know is refused.
    decode: (payload) => {
      const command = decodeText(payload);
      if (!(CONTROL_COMMANDS as readonly string[]).includes(command)) {
        throw new ProtocolError(`unknown control command ${JSON.stringify(command)}`);
      }
      return { kind: "control", command: command as ControlCommand };
    },
  },
};

const serverCodec: Codec<ServerMessage> = {
  hello: helloEntry,
  stdout: outputEntry("stdout"),
  stderr: outputEntry("stderr"),
  exit: {
    type: FrameType.Exit,
    encode: (m) => encodeText(String(m.code)),
    decode: (payload) => ({ kind: "exit", code: exitCode(fieldText(decodeFields(payload)[0])[0]) }),
  },
  failure: {
    type: FrameType.Failure,
    // The reason in a second field, which older readers of the message alone ignore.
    encode: (m) => encodeFields(m.reason === undefined ? [[m.message]] : [[m.message], [m.reason]]),
    decode: (payload) => {
      const [message, reason] = decodeFields(payload);
      return {
        kind: "failure",
        message: fieldText(message).join("\n"),
        reason: fieldText(reason)[0] as FailureKind | undefined,
      };
    },
  },
  "control-reply": {
    type: FrameType.ControlReply,
    // One JSON object.
    encode: (m) => encoder.encode(JSON.stringify(m.reply)),
    decode: (payload) => ({ kind: "control-reply", reply: JSON.parse(decoder.decode(payload)) }),
  },
};

/**
 * The greeting every ghcpw process opens a socket connection with: the protocol and ghcpw versions,
 * which the peer checks first, and the sender's pid, for its logs; then the sender's own properties (its
 * nonce; a server's proof, key and how busy it is).
 */
export function greeting(
  properties: Record<string, string>,
): { kind: "hello"; properties: Record<string, string> } {
  return {
    kind: "hello",
    properties: {
      protocol: String(PROTOCOL_VERSION),
      version: VERSION,
      pid: String(Deno.pid),
      ...properties,
    },
  };
}

/** The frame carrying a client's message. */
export function encodeClientMessage(message: ClientMessage): Frame {
  return encodeWith(clientCodec, message);
}

/** A client's message, which must be of one of the `expected` kinds (`what` names them for errors). */
export function decodeClientMessage<K extends ClientMessage["kind"]>(
  frame: Frame,
  what: string,
  expected: readonly K[],
): Extract<ClientMessage, { kind: K }> {
  return decodeWith(clientCodec, frame, what, expected);
}

/** The frame carrying the server's message. */
export function encodeServerMessage(message: ServerMessage): Frame {
  return encodeWith(serverCodec, message);
}

/** The server's message, which must be of one of the `expected` kinds (`what` names them for errors). */
export function decodeServerMessage<K extends ServerMessage["kind"]>(
  frame: Frame,
  what: string,
  expected: readonly K[],
): Extract<ServerMessage, { kind: K }> {
  return decodeWith(serverCodec, frame, what, expected);
}
