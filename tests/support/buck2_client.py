"""A Buck2 worker client for the tests, on Debian's python3-grpcio: gRPC written by others, talking to
ghcpw's worker as Buck2 would. The message classes come from a descriptor built here at run time
(worker.proto's field numbers and types, as Buck2 declares them), so there is no code generator and no
generated code.

Reads one JSON object from stdin, {"socket": PATH, "calls": [CALL, ...]}, makes every call at once
(one thread each), and prints a JSON list with one result per call, in the order of the calls:
{"ok": RESPONSE} or {"error": {"code": "CANCELLED", "details": "..."}} (a stream's "ok" is the list of
its responses, in the order they arrived), plus "seconds", the call's duration.

A CALL is one of
  {"rpc": "execute", "argv": [ARG...], "env": {K: V}, "timeout_s": N, "cancel_after_s": S}
      worker.Worker/Execute; with cancel_after_s, the call is dropped after S seconds, as Buck2 drops
      the call of an action it no longer wants
  {"rpc": "exec", "argv": ..., "env": ..., "timeout_s": ..., "cancel_after_s": S, "no_command": true}
      worker.Worker/Exec: a command event, then (with cancel_after_s) a cancel event after S seconds;
      no_command sends no event at all
  {"rpc": "stream", "commands": [{"id": N, "argv": ..., "env": ...}, ...]}
      worker.WorkerStreaming/ExecuteStream: every command at once; the client's side stays open until
      every response has arrived, as Buck2 keeps it open
  {"rpc": "raw", "method": "/worker.Worker/Execute", "hex": "ff00..."}
      a unary call whose request is these bytes, whatever they are
An ARG (or an env key or value) is a string, or {"hex": "..."} for bytes that need not be text.
"""

import json
import sys
import threading
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def _field(message, name, number, type_, repeated=False, type_name=None, oneof_index=None, optional=False):
    f = message.field.add(name=name, number=number, type=type_)
    f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    if type_name is not None:
        f.type_name = type_name
    if oneof_index is not None:
        f.oneof_index = oneof_index
    if optional:
        f.proto3_optional = True


def _messages():
    proto = descriptor_pb2.FileDescriptorProto(name="worker.proto", package="worker", syntax="proto3")
    command = proto.message_type.add(name="ExecuteCommand")
    entry = command.nested_type.add(name="EnvironmentEntry")
    _field(entry, "key", 1, F.TYPE_BYTES)
    _field(entry, "value", 2, F.TYPE_BYTES)
    _field(command, "argv", 1, F.TYPE_BYTES, repeated=True)
    _field(command, "env", 2, F.TYPE_MESSAGE, repeated=True, type_name=".worker.ExecuteCommand.EnvironmentEntry")
    command.oneof_decl.add(name="_timeout_s")
    _field(command, "timeout_s", 3, F.TYPE_UINT64, oneof_index=0, optional=True)
    response = proto.message_type.add(name="ExecuteResponse")
    _field(response, "exit_code", 1, F.TYPE_INT32)
    _field(response, "stderr", 2, F.TYPE_STRING)
    response.oneof_decl.add(name="_timed_out_after_s")
    _field(response, "timed_out_after_s", 3, F.TYPE_UINT64, oneof_index=0, optional=True)
    proto.message_type.add(name="ExecuteCancel")
    event = proto.message_type.add(name="ExecuteEvent")
    event.oneof_decl.add(name="data")
    _field(event, "command", 1, F.TYPE_MESSAGE, type_name=".worker.ExecuteCommand", oneof_index=0)
    _field(event, "cancel", 2, F.TYPE_MESSAGE, type_name=".worker.ExecuteCancel", oneof_index=0)
    command_stream = proto.message_type.add(name="ExecuteCommandStream")
    _field(command_stream, "request", 1, F.TYPE_MESSAGE, type_name=".worker.ExecuteCommand")
    _field(command_stream, "id", 2, F.TYPE_UINT64)
    response_stream = proto.message_type.add(name="ExecuteResponseStream")
    _field(response_stream, "response", 1, F.TYPE_MESSAGE, type_name=".worker.ExecuteResponse")
    _field(response_stream, "id", 2, F.TYPE_UINT64)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    # GetMessageClass is protobuf 4.22+; older ones (Debian bookworm's 4.21) have MessageFactory only.
    get_class = getattr(message_factory, "GetMessageClass", None) or message_factory.MessageFactory(pool).GetPrototype
    names = ["ExecuteCommand", "ExecuteResponse", "ExecuteCancel", "ExecuteEvent", "ExecuteCommandStream",
             "ExecuteResponseStream"]
    return {name: get_class(pool.FindMessageTypeByName("worker." + name)) for name in names}


M = _messages()


def _bytes(value):
    return bytes.fromhex(value["hex"]) if isinstance(value, dict) else value.encode()


def _command(call):
    command = M["ExecuteCommand"](argv=[_bytes(a) for a in call.get("argv", [])])
    for key, value in call.get("env", {}).items():
        command.env.add(key=_bytes(key), value=_bytes(value))
    if "timeout_s" in call:
        command.timeout_s = call["timeout_s"]
    return command


def _response(response):
    return {
        "exit_code": response.exit_code,
        "stderr": response.stderr,
        "timed_out_after_s": response.timed_out_after_s if response.HasField("timed_out_after_s") else None,
    }


def _execute(channel, call):
    method = channel.unary_unary("/worker.Worker/Execute", request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=M["ExecuteResponse"].FromString)
    future = method.future(_command(call))
    if "cancel_after_s" in call:
        time.sleep(call["cancel_after_s"])
        future.cancel()
    return _response(future.result())


def _exec(channel, call):
    method = channel.stream_unary("/worker.Worker/Exec", request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=M["ExecuteResponse"].FromString)

    def events():
        if call.get("no_command"):
            return
        yield M["ExecuteEvent"](command=_command(call))
        if "cancel_after_s" in call:
            time.sleep(call["cancel_after_s"])
            yield M["ExecuteEvent"](cancel=M["ExecuteCancel"]())

    return _response(method(events()))


def _stream(channel, call):
    method = channel.stream_stream("/worker.WorkerStreaming/ExecuteStream",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=M["ExecuteResponseStream"].FromString)
    commands = call["commands"]
    answered = threading.Event()

    def requests():
        for c in commands:
            yield M["ExecuteCommandStream"](id=c["id"], request=_command(c))
        answered.wait()

    responses = []
    try:
        for r in method(requests()):
            responses.append({"id": r.id, **_response(r.response)})
            if len(responses) == len(commands):
                break
    finally:
        answered.set()
    return responses


def _raw(channel, call):
    method = channel.unary_unary(call["method"], request_serializer=lambda b: b,
                                 response_deserializer=M["ExecuteResponse"].FromString)
    return _response(method(bytes.fromhex(call["hex"])))


RPCS = {"execute": _execute, "exec": _exec, "stream": _stream, "raw": _raw}


def main():
    job = json.load(sys.stdin)
    channel = grpc.insecure_channel("unix://" + job["socket"])
    grpc.channel_ready_future(channel).result(timeout=60)
    results = [None] * len(job["calls"])

    def run(i, call):
        started = time.monotonic()
        try:
            result = {"ok": RPCS[call["rpc"]](channel, call)}
        except grpc.RpcError as e:
            result = {"error": {"code": e.code().name, "details": e.details()}}
        except grpc.FutureCancelledError:
            result = {"error": {"code": "CANCELLED", "details": "cancelled by this client"}}
        result["seconds"] = time.monotonic() - started
        results[i] = result

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(job["calls"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    channel.close()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
