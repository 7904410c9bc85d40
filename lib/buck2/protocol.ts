/**
 * Buck2's local persistent worker protocol (package `worker` in Buck2's app/buck2_worker_proto/
 * worker.proto): the messages and the two gRPC services a worker serves on $WORKER_SOCKET.
 *
 * - `worker.Worker/Execute`: one command, one response (what Buck2 calls for a WorkerInfo without
 *   `streaming`, retrying on UNAVAILABLE).
 * - `worker.Worker/Exec`: a client stream of events, a command and then perhaps a cancel, answered once.
 * - `worker.WorkerStreaming/ExecuteStream`: both ways a stream; commands and responses carry an id, and
 *   responses come back as commands finish, in any order (a WorkerInfo with `streaming = True`).
 *
 * @module
 */

import type { Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { field, ProtoSchema, Type } from "../protobuf/schema.ts";

/** One environment variable of an action, as bytes (Buck2 passes the OS strings unchanged). */
export type EnvironmentEntry = Message<"worker.ExecuteCommand.EnvironmentEntry"> & {
  key: Uint8Array;
  value: Uint8Array;
};

/** One action: its arguments without the executable, its environment and perhaps a timeout. */
export type ExecuteCommand = Message<"worker.ExecuteCommand"> & {
  argv: Uint8Array[];
  env: EnvironmentEntry[];
  /** The action's timeout in whole seconds, if it has one. */
  timeoutS?: bigint;
};

/** The result of one action; Buck2 drops stdout, so `stderr` is all the user sees. */
export type ExecuteResponse = Message<"worker.ExecuteResponse"> & {
  exitCode: number;
  stderr: string;
  /** Set when the action ran out of time: Buck2 then reports a timeout, whatever the exit code. */
  timedOutAfterS?: bigint;
};

/** Stops the command of the same Exec call. */
export type ExecuteCancel = Message<"worker.ExecuteCancel">;

/** One event of an Exec call. */
export type ExecuteEvent = Message<"worker.ExecuteEvent"> & {
  data:
    | { case: "command"; value: ExecuteCommand }
    | { case: "cancel"; value: ExecuteCancel }
    | { case: undefined; value?: undefined };
};

/** A command of an ExecuteStream call, with the id its response must carry. */
export type ExecuteCommandStream = Message<"worker.ExecuteCommandStream"> & {
  request?: ExecuteCommand;
  id: bigint;
};

/** A response of an ExecuteStream call, for the command of the same id. */
export type ExecuteResponseStream = Message<"worker.ExecuteResponseStream"> & {
  response?: ExecuteResponse;
  id: bigint;
};

const optional = (oneofIndex: number) => ({ oneofIndex, proto3Optional: true });

// Field numbers and types as in Buck2's worker.proto; they are the wire format. A proto3 `optional`
// field has a synthetic oneof of its own, as protoc declares it.
const schema = new ProtoSchema({
  name: "worker.proto",
  package: "worker",
  messageType: [
    {
      name: "ExecuteCommand",
      nestedType: [{
        name: "EnvironmentEntry",
        field: [field("key", 1, Type.BYTES), field("value", 2, Type.BYTES)],
      }],
      field: [
        field("argv", 1, Type.BYTES, { repeated: true }),
        field("env", 2, Type.MESSAGE, {
          repeated: true,
          typeName: ".worker.ExecuteCommand.EnvironmentEntry",
        }),
        field("timeout_s", 3, Type.UINT64, optional(0)),
      ],
      oneofDecl: [{ name: "_timeout_s" }],
    },
    {
      name: "ExecuteResponse",
      field: [
        field("exit_code", 1, Type.INT32),
        field("stderr", 2, Type.STRING),
        field("timed_out_after_s", 3, Type.UINT64, optional(0)),
      ],
      oneofDecl: [{ name: "_timed_out_after_s" }],
    },
    { name: "ExecuteCancel" },
    {
      name: "ExecuteEvent",
      field: [
        field("command", 1, Type.MESSAGE, { typeName: ".worker.ExecuteCommand", oneofIndex: 0 }),
        field("cancel", 2, Type.MESSAGE, { typeName: ".worker.ExecuteCancel", oneofIndex: 0 }),
      ],
      oneofDecl: [{ name: "data" }],
    },
    {
      name: "ExecuteCommandStream",
      field: [
        field("request", 1, Type.MESSAGE, { typeName: ".worker.ExecuteCommand" }),
        field("id", 2, Type.UINT64),
      ],
    },
    {
      name: "ExecuteResponseStream",
      field: [
        field("response", 1, Type.MESSAGE, { typeName: ".worker.ExecuteResponse" }),
        field("id", 2, Type.UINT64),
      ],
    },
  ],
  service: [
    {
      name: "Worker",
      method: [
        { name: "Execute", inputType: ".worker.ExecuteCommand", outputType: ".worker.ExecuteResponse" },
        {
          name: "Exec",
          inputType: ".worker.ExecuteEvent",
          outputType: ".worker.ExecuteResponse",
          clientStreaming: true,
        },
      ],
    },
    {
      name: "WorkerStreaming",
      method: [{
        name: "ExecuteStream",
        inputType: ".worker.ExecuteCommandStream",
        outputType: ".worker.ExecuteResponseStream",
        clientStreaming: true,
        serverStreaming: true,
      }],
    },
  ],
});

/** Descriptor of {@linkcode ExecuteCommand}. */
export const ExecuteCommandSchema: GenMessage<ExecuteCommand> = schema.message("worker.ExecuteCommand");

/** Descriptor of {@linkcode ExecuteResponse}. */
export const ExecuteResponseSchema: GenMessage<ExecuteResponse> = schema.message("worker.ExecuteResponse");

/** Descriptor of {@linkcode ExecuteEvent}. */
export const ExecuteEventSchema: GenMessage<ExecuteEvent> = schema.message("worker.ExecuteEvent");

/** Descriptor of {@linkcode ExecuteCommandStream}. */
export const ExecuteCommandStreamSchema: GenMessage<ExecuteCommandStream> = schema.message(
  "worker.ExecuteCommandStream",
);

/** Descriptor of {@linkcode ExecuteResponseStream}. */
export const ExecuteResponseStreamSchema: GenMessage<ExecuteResponseStream> = schema.message(
  "worker.ExecuteResponseStream",
);

/** The service `worker.Worker`: Execute (unary) and Exec (a client stream of events). */
export const WorkerService = schema.service<{
  execute: { methodKind: "unary"; input: typeof ExecuteCommandSchema; output: typeof ExecuteResponseSchema };
  exec: {
    methodKind: "client_streaming";
    input: typeof ExecuteEventSchema;
    output: typeof ExecuteResponseSchema;
  };
}>("worker.Worker");

/** The service `worker.WorkerStreaming`: ExecuteStream (both ways a stream, by id). */
export const WorkerStreamingService = schema.service<{
  executeStream: {
    methodKind: "bidi_streaming";
    input: typeof ExecuteCommandStreamSchema;
    output: typeof ExecuteResponseStreamSchema;
  };
}>("worker.WorkerStreaming");
