/** The benchmark's means of stage times over many modules (scripts/bench/report.ts), on made-up figures. */

import { assertEquals } from "../support/assert.ts";
import { meanStages } from "../../scripts/bench/report.ts";

Deno.test("a stage's mean counts the modules that did not reach it as 0 ms", () => {
  assertEquals(
    meanStages([
      { frontend: 30, codegen: 100, save: 1 },
      { frontend: 10, save: 3 },
    ]),
    { frontend: 20, codegen: 50, save: 2 },
  );
  assertEquals(meanStages([{ frontend: 4.5 }]), { frontend: 4.5 });
});
