/**
 * Replays the command lines Buck2's Haskell prelude sends its compiler (see
 * shared/notes/build-systems.md): a per-target `--make -no-link` compile with an argsfile, then a link
 * `-o out @argsfile`. ghc before 9.4 cannot read argsfiles, so the oracle runs with them expanded.
 */

import { assertEquals } from "../support/assert.ts";
import { project } from "../support/fixtures.ts";
import {
  assertSameOutputs,
  assertSameRun,
  ghc,
  ghcpw,
  run,
  startServer,
  writeTree,
} from "../support/helpers.ts";
import { unescapeArgs } from "../../lib/ghc/response_file.ts";

Deno.test("Buck2's compile and link command lines give ghc's results", async () => {
  const server = await startServer();
  try {
    const root = await Deno.makeTempDir({ prefix: "ghcpw-buck2-" });
    const sources = ["Shapes/Types.hs", "Shapes/Area.hs", "Gen/TH.hs", "Tables.hs", "Main.hs"];
    const compileArgsfile = [
      "-package",
      "base",
      "-package",
      "containers",
      "-package",
      "template-haskell",
      ...sources.map((s) => `src/${s}`),
    ].join("\n") + "\n";
    const compile = [
      "-O0",
      "-dynamic-too",
      "-no-link",
      "-i",
      "-isrc",
      "-package-env=-",
      "-fPIC",
      "-osuf",
      "o",
      "-hisuf",
      "hi",
      "-odir",
      "out/objects",
      "-hidir",
      "out/hi",
      "-hiedir",
      "out/hie",
      "-stubdir",
      "out/stub",
      "-this-unit-id",
      "main",
      "@compile.argsfile",
    ];
    const objects = sources.map((s) => `out/objects/${s.replace(/\.hs$/, ".o")}`);
    const linkArgsfile =
      ["-package", "base", "-package", "containers", "-package", "template-haskell", ...objects]
        .join("\n") + "\n";
    const link = ["-o", "out/app", "@link.argsfile"];

    for (const side of ["cold", "warm"]) {
      await writeTree(`${root}/${side}`, {
        ...Object.fromEntries(Object.entries(project()).map(([p, c]) => [`src/${p}`, c])),
        "compile.argsfile": compileArgsfile,
        "link.argsfile": linkArgsfile,
      });
    }
    const expand = (args: string[], file: string) =>
      args.flatMap((a) =>
        a === `@${file}` ? unescapeArgs(file === "compile.argsfile" ? compileArgsfile : linkArgsfile) : [a]
      );

    const compiled = await ghcpw(server.socket, compile, `${root}/warm`);
    assertEquals(compiled.code, 0, compiled.stderr);
    assertSameRun(compiled, await ghc(expand(compile, "compile.argsfile"), `${root}/cold`));
    const linked = await ghcpw(server.socket, link, `${root}/warm`);
    assertEquals(linked.code, 0, linked.stderr);
    assertSameRun(linked, await ghc(expand(link, "link.argsfile"), `${root}/cold`));

    await assertSameOutputs(`${root}/cold`, `${root}/warm`, [".hi", ".dyn_hi"]);
    const app = await run(`${root}/warm/out/app`, []);
    assertEquals(app, await run(`${root}/cold/out/app`, []));
    assertEquals(app.stdout.split("\n")[0], "42");
  } finally {
    await server.stop();
  }
});
