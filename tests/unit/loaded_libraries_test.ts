import { assert } from "../support/assert.ts";
import { librariesUnder, type LibrarySnapshot } from "../../lib/pool/loaded_libraries.ts";

Deno.test("librariesUnder: a library inside the directory, not one beside it of a longer name", () => {
  const snapshot: LibrarySnapshot = new Map([
    ["/usr/lib/ghc/lib/libHSbase.so", { ino: 1, mtime: 1 }],
    ["/work/a-b/pkg/lib/libHSmylib.so", { ino: 2, mtime: 2 }],
  ]);
  assert(librariesUnder(snapshot, "/work/a-b"));
  assert(librariesUnder(snapshot, "/work/a-b/"));
  assert(!librariesUnder(snapshot, "/work/a"));
  assert(!librariesUnder(snapshot, "/srv"));
});
