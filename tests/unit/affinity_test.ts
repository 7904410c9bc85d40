import { assert, assertEquals } from "../support/assert.ts";
import { affinityOf } from "../../lib/compile/affinity.ts";

Deno.test("invocations differing only in sources and outputs share an affinity", () => {
  assertEquals(
    affinityOf(["-c", "A.hs", "-o", "A.o", "-O1", "-package-db", "db"], {}),
    affinityOf(["-c", "B.hs", "-odir", "x", "-O1", "-package-db", "db"], { HOME: "/h" }),
  );
});

Deno.test("optimisation, ways and package databases separate affinities", () => {
  const base = affinityOf(["-c", "A.hs"], {});
  for (
    const [args, env] of [
      [["-c", "-O1", "A.hs"], {}],
      [["-c", "-dynamic-too", "A.hs"], {}],
      [["-c", "-package-db", "db", "A.hs"], {}],
      [["-c", "-package-env=-", "A.hs"], {}],
      [["-c", "A.hs"], { GHC_PACKAGE_PATH: "/db:" }],
    ] as Array<[string[], Record<string, string>]>
  ) {
    assert(affinityOf(args, env) !== base, args.join(" "));
  }
});
