/** A ghc's identity, asked of the real ghc once and then read from the runtime directory's cache. */

import { assertEquals } from "../support/assert.ts";
import { GHC } from "../support/helpers.ts";
import { ghcIdentity } from "../../lib/address/server_key.ts";
import { realExecutablePath } from "../../lib/ghc/installation.ts";

Deno.test("a ghc's identity is its real path, version and libdir, cached per executable", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const identity = await ghcIdentity(GHC, cache);
    assertEquals(identity.realPath, realExecutablePath(GHC));
    assertEquals(/^\d+\.\d+\.\d+/.test(identity.version), true, identity.version);
    // The second look comes from the cache, and agrees.
    assertEquals(await ghcIdentity(GHC, cache), identity);
    assertEquals([...Deno.readDirSync(`${cache}/ghc-info`)].length, 1);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
