import { assertEquals } from "../support/assert.ts";
import {
  debianSuite,
  mainDebianSource,
  parseDeb822Sources,
  parseOneLineSources,
} from "../../scripts/real_library/apt_sources.ts";
import { parsePackageDump } from "../../scripts/real_library/installed_units.ts";

/** The deb822 file of a Debian container image (a snapshot mirror's comment, the security archive apart). */
const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Enabled: no
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
`;

Deno.test("deb822 stanzas parse into entries; disabled ones are skipped", () => {
  assertEquals(parseDeb822Sources(DEB822), [
    {
      types: ["deb"],
      uris: ["http://deb.debian.org/debian"],
      suites: ["bookworm", "bookworm-updates"],
      components: ["main"],
      signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
    },
    {
      types: ["deb"],
      uris: ["http://deb.debian.org/debian-security"],
      suites: ["bookworm-security"],
      components: ["main"],
      signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
    },
  ]);
});

Deno.test("one-line entries parse with their signed-by option; comments and blank lines are ignored", () => {
  const text = `# comment
deb [arch=amd64 signed-by=/k.gpg] http://mirror/debian sid main contrib

deb-src http://mirror/debian sid main # trailing comment
`;
  assertEquals(parseOneLineSources(text), [
    {
      types: ["deb"],
      uris: ["http://mirror/debian"],
      suites: ["sid"],
      components: ["main", "contrib"],
      signedBy: "/k.gpg",
    },
    {
      types: ["deb-src"],
      uris: ["http://mirror/debian"],
      suites: ["sid"],
      components: ["main"],
      signedBy: "",
    },
  ]);
});

Deno.test("the main Debian source is a deb entry of a plain suite with main, not the security archive", () => {
  const securityFirst = parseDeb822Sources(DEB822).reverse();
  assertEquals(mainDebianSource(securityFirst), {
    uri: "http://deb.debian.org/debian",
    suite: "bookworm",
    signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
  });
  assertEquals(mainDebianSource(parseOneLineSources("deb-src http://m/debian sid main\n")), null);
});

Deno.test("the suite comes from apt's sources before os-release (sid's names the next release)", async () => {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-apt-root-" });
  try {
    await Deno.mkdir(`${root}/etc/apt/sources.list.d`, { recursive: true });
    await Deno.writeTextFile(`${root}/etc/os-release`, 'VERSION_CODENAME="forky"\n');
    assertEquals(await debianSuite(root), "forky", "os-release without apt sources");
    await Deno.writeTextFile(
      `${root}/etc/apt/sources.list.d/debian.sources`,
      DEB822.replaceAll("bookworm", "sid"),
    );
    assertEquals(await debianSuite(root), "sid");
    await Deno.remove(`${root}/etc/os-release`);
    await Deno.remove(`${root}/etc/apt/sources.list.d/debian.sources`);
    assertEquals(await debianSuite(root), "sid", "neither: sid");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ghc-pkg dump gives each unit's name, version and id; sublibraries keep their z-encoded name", () => {
  const dump = `name:                 vector
version:              0.13.1.0
visibility:           public
id:                   vector-0.13.1.0-abc
---
name:                 z-vector-z-benchmarks-O2
version:              0.13.1.0
package-name:         vector
id:                   vector-0.13.1.0-abc-benchmarks-O2
---
name: broken
`;
  assertEquals(parsePackageDump(dump), [
    { name: "vector", version: "0.13.1.0", id: "vector-0.13.1.0-abc" },
    { name: "z-vector-z-benchmarks-O2", version: "0.13.1.0", id: "vector-0.13.1.0-abc-benchmarks-O2" },
  ]);
});
