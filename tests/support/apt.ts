/**
 * Installing a Debian package a suite needs (Bazel, the Buck2 test's gRPC client) when the machine lacks
 * it: the suites run as root on Debian, on the host and in the GHC chroots, and reach Debian's mirror.
 *
 * @module
 */

import { run } from "./helpers.ts";

/**
 * Makes sure `present()` holds, installing `packages` with apt-get if it does not; fails saying what
 * `needs` them and why they could not be installed.
 */
export async function ensureDebianPackages(
  needs: string,
  packages: string[],
  present: () => Promise<boolean>,
): Promise<void> {
  if (await present()) return;
  const install = await run("sh", [
    "-c",
    // A mirror's Release file may be past its Valid-Until (sid's is short-lived); its packages still are
    // fine. Another suite may be installing its own packages at the same moment: wait for dpkg's lock.
    "apt-get -o Acquire::Check-Valid-Until=false update -qq && DEBIAN_FRONTEND=noninteractive " +
    `apt-get -o DPkg::Lock::Timeout=300 install -y -qq ${packages.join(" ")}`,
  ]);
  if (!await present()) {
    throw new Error(
      `${needs} needs Debian's ${packages.join(" and ")}, which could not be installed with apt-get ` +
        `(exit ${install.code}):\n${install.stdout}${install.stderr}`,
    );
  }
}
