/** The benchmark's verdicts against issue 15's bars (scripts/bench/bars.ts), on made-up figures. */

import { assertEquals } from "../support/assert.ts";
import {
  atMost,
  bazelVerdict,
  ghcpwBar,
  ghcpwVerdict,
  metCount,
  overheadVerdict,
  workerRatio,
  workerVerdict,
} from "../../scripts/bench/bars.ts";

Deno.test("a bar is met up to and including its value; a missing figure gets no verdict", () => {
  assertEquals(atMost(1.2, 1.2), "met");
  assertEquals(atMost(1.21, 1.2), "not met");
  assertEquals(atMost(NaN, 1.2), "-");
  assertEquals(atMost(Infinity, 1.2), "-");
});

Deno.test("the client overhead's median must be at most 25 ms", () => {
  assertEquals(overheadVerdict(25), "met");
  assertEquals(overheadVerdict(25.4), "not met");
  assertEquals(overheadVerdict(NaN), "-");
});

Deno.test("the worker's time per compile is held against a compile's share of --make, at one job only", () => {
  // 30 compiles in 4.2 s of --make: 140 ms each.
  assertEquals(workerRatio(147, 4200, 30), 1.05);
  assertEquals(workerVerdict(workerRatio(147, 4200, 30), 1), "met");
  assertEquals(workerVerdict(workerRatio(150, 4200, 30), 1), "not met");
  assertEquals(workerVerdict(workerRatio(100, 4200, 30), 2), "n/a");
  assertEquals(workerVerdict(workerRatio(147, NaN, 30), 1), "-");
});

Deno.test("a ghcpw build may take 1.2x of --make at one job, 1.0x at two, and has no bar at more", () => {
  assertEquals([1, 2, 3].map(ghcpwBar), [1.2, 1.0, null]);
  assertEquals(ghcpwVerdict(1.19, 1), "met");
  assertEquals(ghcpwVerdict(1.19, 2), "not met");
  assertEquals(ghcpwVerdict(0.98, 2), "met");
  assertEquals(ghcpwVerdict(0.5, 4), "n/a");
});

Deno.test("a Bazel worker build may take 1.05x of --make at one job; other job counts have no bar", () => {
  assertEquals(bazelVerdict(1.05, 1), "met");
  assertEquals(bazelVerdict(1.06, 1), "not met");
  assertEquals(bazelVerdict(0.9, 2), "n/a");
});

Deno.test("met counts are out of the rows a bar judged", () => {
  assertEquals(metCount(["met", "not met", "n/a", "-", "met"]), "2/3");
  assertEquals(metCount([]), "0/0");
});
