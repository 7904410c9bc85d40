import { assertEquals } from "../support/assert.ts";
import { planInvocation } from "../../lib/ghc/mode.ts";
import { Environment } from "../../lib/process/environment.ts";

const plan = (args: string[], env: Record<string, string> = {}) =>
  planInvocation(args, args, Environment.fromRecord(env));

Deno.test("one-shot modes go to a worker with the mode flag taken out", () => {
  assertEquals(plan(["-O", "-c", "A.hs"]), { kind: "worker", mode: ["c"], args: ["-no-link", "-O", "A.hs"] });
  assertEquals(plan(["-E", "A.hs"]), { kind: "worker", mode: ["E"], args: ["A.hs"] });
  assertEquals(plan(["-S", "A.hs"]), { kind: "worker", mode: ["S"], args: ["A.hs"] });
  assertEquals(plan(["-M", "A.hs"]), { kind: "worker", mode: ["M"], args: ["A.hs"] });
});

Deno.test("--make is the default, and -c with --make means --make -no-link", () => {
  assertEquals(plan(["Main.hs"]), { kind: "worker", mode: ["make"], args: ["Main.hs"] });
  assertEquals(plan(["-o", "x", "a.o", "b.o"]), {
    kind: "worker",
    mode: ["make"],
    args: ["-o", "x", "a.o", "b.o"],
  });
  assertEquals(plan(["--make", "-c", "M.hs"]), {
    kind: "worker",
    mode: ["make"],
    args: ["-no-link", "M.hs"],
  });
  assertEquals(plan(["-c", "-c", "M.hs"]), { kind: "worker", mode: ["c"], args: ["-no-link", "M.hs"] });
});

Deno.test("--show-iface takes its file, separate or attached", () => {
  assertEquals(plan(["--show-iface", "A.hi"]), { kind: "worker", mode: ["show-iface", "A.hi"], args: [] });
  assertEquals(plan(["--show-ifaceA.hi", "-v0"]), {
    kind: "worker",
    mode: ["show-iface", "A.hi"],
    args: ["-v0"],
  });
});

Deno.test("queries, other modes and conflicting modes run the real ghc", () => {
  for (
    const args of [
      ["--version"],
      ["-c", "--numeric-version"],
      ["--print-libdir"],
      ["--info"],
      ["--interactive"],
      ["-e", "1+1"],
      ["--frontend", "M"],
      ["-c", "-M", "A.hs"],
      ["--abi-hash", "A"],
      ["-B/opt/ghc/lib", "-c", "A.hs"],
    ]
  ) {
    assertEquals(plan(args).kind, "direct", args.join(" "));
  }
});

Deno.test("RTS options, on the command line or in GHCRTS, run the real ghc", () => {
  assertEquals(plan(["+RTS", "-A64m", "-RTS", "-c", "A.hs"]).kind, "direct");
  assertEquals(plan(["-c", "A.hs"], { GHCRTS: "-A64m" }).kind, "direct");
  // Only the real command line counts: a "+RTS" inside a response file is just an argument.
  assertEquals(planInvocation(["@rsp"], ["+RTS", "-c", "A.hs"], Environment.fromRecord({})).kind, "worker");
});
