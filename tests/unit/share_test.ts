/**
 * The `--share` setting: what it accepts and refuses, its one written form, and which part of it goes
 * into the server key (lib/share.ts, lib/address/server_key.ts).
 */

import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import {
  DEFAULT_SHARE,
  deterministicObjects,
  formatShare,
  parseShare,
  ShareError,
  shareSetting,
} from "../../lib/share.ts";
import { serverKey } from "../../lib/address/server_key.ts";
import { holdingsOf } from "../../lib/pool/worker.ts";

Deno.test("share: none, all and sets, written in one order", () => {
  assertEquals(parseShare("none"), []);
  assertEquals(parseShare("all"), ["names", "databases", "interfaces"]);
  assertEquals(parseShare("interfaces,names"), ["names", "interfaces"]);
  assertEquals(parseShare(" databases , databases"), ["databases"]);
  assertEquals(formatShare(parseShare("interfaces,databases,names")), "names,databases,interfaces");
  assertEquals(formatShare([]), "none");
  assertEquals(DEFAULT_SHARE, parseShare("all"));
  assertEquals(parseShare("code,all"), ["names", "databases", "interfaces", "code"]);
  assertEquals(formatShare(parseShare("names,code")), "names,code");
});

Deno.test("share: unknown, unsupported and inconsistent settings are refused with the reason", () => {
  const refusal = (text: string) => {
    try {
      parseShare(text);
    } catch (e) {
      assert(e instanceof ShareError, String(e));
      return e.message;
    }
    throw new Error(`${text} was accepted`);
  };
  for (const bad of ["", "nmes", "names,", "none,names", "all,none"]) {
    assert(refusal(bad).includes("none, or a comma-separated set of all,"), refusal(bad));
  }
  assert(refusal("all,home-interfaces").includes("withdrawn"), refusal("all,home-interfaces"));
  assert(refusal("databases,code").includes("needs names too"));
  assert(refusal("interfaces").includes("needs names too"));
  assert(refusal("databases,interfaces").includes("needs names too"));
});

Deno.test("share: the option wins over GHCPW_SHARE, which wins over the default", () => {
  assertEquals(shareSetting("none", "all"), []);
  assertEquals(shareSetting(undefined, "databases"), ["databases"]);
  assertEquals(shareSetting(undefined, undefined), DEFAULT_SHARE);
  assertEquals(shareSetting(undefined, ""), DEFAULT_SHARE);
  assertThrows(() => shareSetting(undefined, "bogus"), ShareError);
});

Deno.test("share: only whether names are kept changes the server key, and the default keeps its key", async () => {
  const identity = { realPath: "/usr/bin/ghc", version: "9.0.2", libdir: "/usr/lib/ghc" };
  const key = (share: string) =>
    serverKey(identity, { packageDbs: [], deterministicObjects: deterministicObjects(parseShare(share)) });
  assertEquals(await key("all"), await serverKey(identity, { packageDbs: [] }));
  assertEquals(await key("names,databases"), await key("all"));
  assertEquals(await key("all,code"), await key("all"));
  assertEquals(await key("none"), await key("databases"));
  assert(await key("none") !== await key("all"));
});

Deno.test("a worker's reported holdings: counts, packages and heap, or nothing it did not report", () => {
  assertEquals(
    holdingsOf({
      "interfaces-resumed": "3",
      "interface-sets": "2",
      interfaces: "40",
      packages: "base,ghc-prim",
      "code-packages": "rts,ghc-prim",
      "heap-live-bytes": "100",
      "heap-max-live-bytes": "200",
      "heap-bytes": "400",
      "heap-collections": "7",
      "heap-allocated-bytes": "9000",
      "heap-collected-ms": "12",
    }),
    {
      interfaceSets: 2,
      interfaces: 40,
      packages: ["base", "ghc-prim"],
      codePackages: ["rts", "ghc-prim"],
      heap: {
        liveBytes: 100,
        maxLiveBytes: 200,
        bytes: 400,
        collections: 7,
        allocatedBytes: 9000,
        collectedMs: 12,
      },
    },
  );
  // A request after which the worker did not collect its heap reports no collection time.
  assertEquals(
    holdingsOf({ "heap-live-bytes": "100", "heap-bytes": "400" }).heap?.collectedMs,
    null,
  );
  assertEquals(holdingsOf({}), {
    interfaceSets: 0,
    interfaces: 0,
    packages: [],
    codePackages: [],
    heap: null,
  });
});
