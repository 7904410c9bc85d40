import { assertEquals, assertRejects } from "../support/assert.ts";
import { exitCodeOf, settledStatus } from "../../lib/process/exit_status.ts";

const killed = (signal: Deno.Signal): Deno.CommandStatus => ({ success: false, code: 1, signal });

Deno.test("an exit status becomes the shell's exit code: its own code, or 128 + the signal's Linux number", () => {
  assertEquals(exitCodeOf({ success: true, code: 0, signal: null }), 0);
  assertEquals(exitCodeOf({ success: false, code: 1, signal: null }), 1);
  assertEquals(exitCodeOf({ success: false, code: 250, signal: null }), 250);
  // The codes bash and dash report for a child killed by each (e.g. `sh -c 'kill -ABRT $$'; echo $?`).
  const expected: [Deno.Signal, number][] = [
    ["SIGHUP", 129],
    ["SIGINT", 130],
    ["SIGQUIT", 131],
    ["SIGILL", 132],
    ["SIGTRAP", 133],
    ["SIGABRT", 134],
    ["SIGBUS", 135],
    ["SIGFPE", 136],
    ["SIGKILL", 137],
    ["SIGUSR1", 138],
    ["SIGSEGV", 139],
    ["SIGUSR2", 140],
    ["SIGPIPE", 141],
    ["SIGALRM", 142],
    ["SIGTERM", 143],
    ["SIGSTKFLT", 144],
    ["SIGXCPU", 152],
    ["SIGXFSZ", 153],
    ["SIGVTALRM", 154],
    ["SIGPROF", 155],
    ["SIGIO", 157],
    ["SIGPOLL", 157],
    ["SIGPWR", 158],
    ["SIGSYS", 159],
  ];
  for (const [signal, code] of expected) assertEquals([signal, exitCodeOf(killed(signal))], [signal, code]);
});

Deno.test("a signal Deno cannot name (real-time) still gives a status, with the shell's code", async () => {
  const status = await settledStatus(Promise.reject(new TypeError("Invalid signal: 40")));
  assertEquals(status, { success: false, code: 168, signal: null });
  assertEquals(exitCodeOf(status), 168);
  // Any other failure is not a status.
  await assertRejects(() => settledStatus(Promise.reject(new TypeError("something else"))), /something else/);
  await assertRejects(() => settledStatus(Promise.reject(new Error("Invalid signal: 40"))), /Invalid signal/);
});
