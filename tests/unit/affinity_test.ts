import { assert, assertEquals } from "../support/assert.ts";
import { affinityOf } from "../../lib/compile/affinity.ts";
import { Environment } from "../../lib/process/environment.ts";

const affinity = (args: string[], env: Record<string, string> = {}) =>
  affinityOf(args, Environment.fromRecord(env));

Deno.test("invocations differing only in sources and outputs share an affinity", () => {
  assertEquals(
    affinity(["-c", "A.hs", "-o", "A.o", "-O1", "-package-db", "db"]),
    affinity(["-c", "B.hs", "-odir", "x", "-O1", "-package-db", "db"], { HOME: "/h" }),
  );
});

Deno.test("optimisation, ways and package databases separate affinities", () => {
  const base = affinity(["-c", "A.hs"]);
  for (
    const [args, env] of [
      [["-c", "-O1", "A.hs"], {}],
      [["-c", "-dynamic-too", "A.hs"], {}],
      [["-c", "-package-db", "db", "A.hs"], {}],
      [["-c", "-package-env=-", "A.hs"], {}],
      [["-c", "A.hs"], { GHC_PACKAGE_PATH: "/db:" }],
    ] as Array<[string[], Record<string, string>]>
  ) {
    assert(affinity(args, env) !== base, args.join(" "));
  }
});
