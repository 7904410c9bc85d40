import { assertEquals, assertRejects } from "../support/assert.ts";
import { expandResponseFiles, ResponseFileError, unescapeArgs } from "../../lib/ghc/response_file.ts";

Deno.test("arguments split at unquoted white space, one per line as Buck2 writes them", () => {
  assertEquals(unescapeArgs("-c\n-o\nout dir/x.o\n\n"), ["-c", "-o", "out", "dir/x.o"]);
  assertEquals(unescapeArgs("  a\t b \r\n c  "), ["a", "b", "c"]);
});

Deno.test("quotes and backslashes remove one layer of escaping", () => {
  assertEquals(unescapeArgs(`'a b' "c d" e\\ f 'it''s' "say \\"hi\\"" \\\\`), [
    "a b",
    "c d",
    "e f",
    "its",
    'say "hi"',
    "\\",
  ]);
  assertEquals(unescapeArgs(`"" ''`), []);
  assertEquals(unescapeArgs(`x"y z"w`), ["xy zw"]);
});

Deno.test("response files expand in place, relative to the working directory, not recursively", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.rsp`, "-c 'A B.hs'\n@b.rsp\n");
  assertEquals(await expandResponseFiles(["-v0", "@a.rsp", "x"], dir), [
    "-v0",
    "-c",
    "A B.hs",
    "@b.rsp",
    "x",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a response file that is not UTF-8 is not expanded: the real ghc reads it", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/a.rsp`, new Uint8Array([0x2d, 0x63, 0x20, 0xff, 0x2e, 0x68, 0x73, 0x0a]));
  await Deno.writeTextFile(`${dir}/b.rsp`, "-v0\n");
  assertEquals(await expandResponseFiles(["@b.rsp", "@a.rsp"], dir), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a missing response file gives GHC's message", async () => {
  await assertRejects(
    () => expandResponseFiles(["@missing.rsp"], "/"),
    (e: Error) =>
      e instanceof ResponseFileError &&
      e.message ===
        "Error while expanding response file: missing.rsp: openFile: does not exist (No such file or directory)",
  );
});
