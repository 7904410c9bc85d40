import { assertEquals, assertRejects } from "../support/assert.ts";
import { withDeadline, withTimeout } from "../../lib/timeout.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const [name, limit] of [["withTimeout", withTimeout], ["withDeadline", withDeadline]] as const) {
  Deno.test(`${name} settles as its promise does, or with its own error once the time is up`, async () => {
    assertEquals(await limit(Promise.resolve(7), 50, () => new Error("late")), 7);
    await assertRejects(
      () => limit(Promise.reject(new Error("failed")), 50, () => new Error("late")),
      /failed/,
    );
    await assertRejects(() => limit(new Promise(() => {}), 10, () => new Error("late")), /late/);
    // withDeadline's timer is not cleared: let it fire inside the test.
    await sleep(60);
  });
}
