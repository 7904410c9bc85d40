/**
 * The Buck2 worker's RPCs without processes or sockets: Connect's in-memory router transport calls the
 * real service (lib/buck2/service.ts) with a runner that plays GHC (writes output, waits, exits, or
 * waits until it is stopped). Covers the protocol's rules — output order, timeouts, Exec's cancel event,
 * ExecuteStream's ids, bad commands, shutdown — and how a command's bytes become an invocation.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { decodeCommand, UnrunnableCommand, workerBaseEnv } from "../../lib/buck2/invocation.ts";
import {
  type ExecuteCommand,
  ExecuteCommandSchema,
  type ExecuteEvent,
  ExecuteEventSchema,
  WorkerService,
  WorkerStreamingService,
} from "../../lib/buck2/protocol.ts";
import { registerWorkerServices, type RunInvocation, shuttingDown } from "../../lib/buck2/service.ts";
import type { Invocation } from "../../lib/buck2/invocation.ts";

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function command(argv: string[], fields: Partial<Omit<ExecuteCommand, "$typeName">> = {}): ExecuteCommand {
  return create(ExecuteCommandSchema, { argv: argv.map(bytes), ...fields });
}

/**
 * What the fake ghc does for an argv: `out:TEXT` and `err:TEXT` write, `wait:MS` sleeps, `hang` waits
 * until stopped, `exit:N` exits; the default exit code is 0. Records every invocation and whether it
 * was stopped.
 */
function fakeGhc() {
  const seen: { invocation: Invocation; stopped: boolean }[] = [];
  const run: RunInvocation = async (invocation, sink, signal) => {
    const record = { invocation, stopped: false };
    seen.push(record);
    signal.addEventListener("abort", () => record.stopped = true);
    let code = 0;
    for (const step of invocation.argv) {
      const [op, arg] = [
        step.slice(0, step.indexOf(":") + 1 || step.length),
        step.slice(step.indexOf(":") + 1),
      ];
      if (op === "out:") await sink.stdout(bytes(arg));
      else if (op === "err:") await sink.stderr(bytes(arg));
      else if (op === "wait:") await sleep(Number(arg));
      else if (op === "exit:") code = Number(arg);
      else if (op === "hang") {
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      }
    }
    signal.throwIfAborted();
    return code;
  };
  return { run, seen };
}

function serve(run: RunInvocation, shutdown = new AbortController().signal) {
  const transport = createRouterTransport((router) =>
    registerWorkerServices(router, {
      run,
      baseEnv: { HOME: "/home/u", LANG: "C" },
      cwd: "/project",
      shutdown,
    })
  );
  return {
    worker: createClient(WorkerService, transport),
    streaming: createClient(WorkerStreamingService, transport),
  };
}

async function* events(...items: (ExecuteEvent | number)[]): AsyncIterable<ExecuteEvent> {
  for (const item of items) {
    if (typeof item === "number") await sleep(item);
    else yield item;
  }
}

const commandEvent = (c: ExecuteCommand) =>
  create(ExecuteEventSchema, { data: { case: "command", value: c } });
const cancelEvent = () => create(ExecuteEventSchema, { data: { case: "cancel", value: {} } });

Deno.test("a command's bytes become ghc's argv and the worker's environment with the action's over it", () => {
  const invocation = decodeCommand(
    command(["-c", "Main.hs"], {
      env: [{ key: bytes("LANG"), value: bytes("C.UTF-8") }, { key: bytes("TMPDIR"), value: bytes("/t") }]
        .map((e) => ({ ...e, $typeName: "worker.ExecuteCommand.EnvironmentEntry" as const })),
      timeoutS: 3n,
    }),
    workerBaseEnv({ HOME: "/home/u", LANG: "C", WORKER_SOCKET: "/tmp/w/socket", PWD: "/elsewhere" }),
    "/project",
  );
  assertEquals(invocation, {
    argv: ["-c", "Main.hs"],
    env: { HOME: "/home/u", LANG: "C.UTF-8", TMPDIR: "/t", PWD: "/project" },
    timeoutMs: 3000,
  });
  // No timeout, and one too long for a timer, both mean none.
  assertEquals(decodeCommand(command([]), {}, "/p").timeoutMs, undefined);
  assertEquals(decodeCommand(command([], { timeoutS: 2n ** 63n }), {}, "/p").timeoutMs, undefined);
  for (
    const [bad, message] of [
      [command(["-c"], { argv: [bytes("-c"), new Uint8Array([0xff])] }), /argument 2 is not valid UTF-8/],
      [command(["a\0b"]), /argument 1 contains a NUL byte/],
    ] as const
  ) {
    try {
      decodeCommand(bad, {}, "/p");
      assert(false, "accepted");
    } catch (e) {
      assert(e instanceof UnrunnableCommand);
      assert(message.test(e.message), e.message);
    }
  }
});

Deno.test("Execute answers with ghc's exit code, stdout and stderr in one text in the order written", async () => {
  const ghc = fakeGhc();
  const { worker } = serve(ghc.run);
  const response = await worker.execute(command(["err:one ", "out:two ", "err:three", "exit:1"]));
  assertEquals([response.exitCode, response.stderr, response.timedOutAfterS], [
    1,
    "one two three",
    undefined,
  ]);
  assertEquals(ghc.seen[0].invocation.env, { HOME: "/home/u", LANG: "C", PWD: "/project" });
});

Deno.test("a command over its timeout is stopped and answered with timed_out_after_s", async () => {
  const ghc = fakeGhc();
  const { worker } = serve(ghc.run);
  // A zero timeout is already over when the command starts.
  const response = await worker.execute(command(["out:partial\n", "hang"], { timeoutS: 0n }));
  assertEquals(response.timedOutAfterS, 0n);
  assertEquals(response.exitCode, 1);
  assertEquals(
    response.stderr,
    "partial\nghcpw buck2: the compile ran longer than the action's timeout (0 s) and was stopped\n",
  );
  assert(ghc.seen[0].stopped);
});

Deno.test("Exec runs its command; a cancel event stops it; a stream without a command is refused", async () => {
  const ghc = fakeGhc();
  const { worker } = serve(ghc.run);
  assertEquals((await worker.exec(events(commandEvent(command(["out:ok"]))))).stderr, "ok");
  await assertRejects(
    () => worker.exec(events(commandEvent(command(["hang"])), 20, cancelEvent())),
    (e) => e instanceof ConnectError && e.code === Code.Canceled,
  );
  assert(ghc.seen[1].stopped);
  for (
    const [stream, code] of [[events(), Code.InvalidArgument], [
      events(cancelEvent()),
      Code.Canceled,
    ]] as const
  ) {
    await assertRejects(() => worker.exec(stream), (e) => e instanceof ConnectError && e.code === code);
  }
  await assertRejects(
    () => worker.exec(events(commandEvent(command(["hang"])), commandEvent(command([])))),
    (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
  );
  assert(ghc.seen[2].stopped);
});

Deno.test("ExecuteStream answers each id as its command finishes; bad commands fail alone", async () => {
  const ghc = fakeGhc();
  const { streaming } = serve(ghc.run);
  async function* commands() {
    yield { id: 0n, request: command(["wait:150", "out:slow"]) };
    yield { id: 7n, request: command(["out:fast"]) };
    yield { id: 3n, request: command([], { argv: [new Uint8Array([0xc3])] }) };
    yield { id: 1n, request: command(["wait:50", "exit:1"]) };
  }
  const answers = [];
  for await (const r of streaming.executeStream(commands())) {
    answers.push([r.id, r.response?.exitCode, r.response?.stderr]);
  }
  // The two immediate answers may come in either order; the waiting ones after them, shortest first.
  assertEquals(answers.slice(0, 2).sort((a, b) => Number(a[0]) - Number(b[0])), [
    [3n, 2, "ghcpw buck2: cannot run this command: argument 1 is not valid UTF-8\n"],
    [7n, 0, "fast"],
  ]);
  assertEquals(answers.slice(2), [[1n, 1, ""], [0n, 0, "slow"]]);
});

Deno.test("ExecuteStream refuses an id in flight twice, and stops every command it was running", async () => {
  const ghc = fakeGhc();
  const { streaming } = serve(ghc.run);
  async function* commands() {
    yield { id: 5n, request: command(["hang"]) };
    await sleep(20);
    yield { id: 5n, request: command(["hang"]) };
  }
  await assertRejects(
    async () => {
      for await (const _ of streaming.executeStream(commands())) {
        // no response expected
      }
    },
    (e) =>
      e instanceof ConnectError && e.code === Code.InvalidArgument &&
      /id 5 is already in flight/.test(e.message),
  );
  await sleep(10);
  assertEquals(ghc.seen.map((s) => s.stopped), [true]);
});

Deno.test("shutting down stops every running command with UNAVAILABLE", async () => {
  const ghc = fakeGhc();
  const shutdown = new AbortController();
  const { worker } = serve(ghc.run, shutdown.signal);
  const call = worker.execute(command(["hang"]));
  await sleep(20);
  shutdown.abort(shuttingDown());
  await assertRejects(() => call, (e) => e instanceof ConnectError && e.code === Code.Unavailable);
  assert(ghc.seen[0].stopped);
});
