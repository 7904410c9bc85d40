import { assert, assertEquals } from "../support/assert.ts";
import {
  makeRequestDir,
  removeStaleRequestDirs,
  REQUEST_DIR_PREFIX,
  requestDirOwner,
} from "../../lib/pool/request_dir.ts";

Deno.test("only request directories whose maker is gone are removed", async () => {
  const root = await Deno.makeTempDir({ prefix: "gpw-reqdir-" });
  try {
    const own = await makeRequestDir(root);
    const name = own.slice(root.length + 1);
    const owner = requestDirOwner(name);
    assert(owner !== null, `${name} does not name its maker`);
    assertEquals(owner.pid, Deno.pid);
    const ns = owner.namespace;

    // A process that has exited and been reaped: its pid names nobody (or, recycled, another start time).
    const exited = new Deno.Command("true").spawn();
    await exited.status;
    const dirs = {
      exited: `${REQUEST_DIR_PREFIX}${ns}.${exited.pid}.${owner.start}-a`,
      recycled: `${REQUEST_DIR_PREFIX}${ns}.${Deno.pid}.${Number(owner.start) + 1}-b`,
      otherNamespace: `${REQUEST_DIR_PREFIX}${Number(ns) + 1}.${exited.pid}.1-c`,
      unnamed: `${REQUEST_DIR_PREFIX}d`,
    };
    for (const dir of Object.values(dirs)) await Deno.mkdir(`${root}/${dir}/inner`, { recursive: true });
    // A symbolic link named like a stale directory is not followed, let alone removed.
    const target = await Deno.makeTempDir({ dir: root, prefix: "target-" });
    const link = `${REQUEST_DIR_PREFIX}${ns}.${exited.pid}.${owner.start}-e`;
    await Deno.symlink(target, `${root}/${link}`);

    const removed = await removeStaleRequestDirs(root);
    assertEquals(removed.sort(), [`${root}/${dirs.exited}`, `${root}/${dirs.recycled}`].sort());
    const left = [...Deno.readDirSync(root)].map((e) => e.name).sort();
    assertEquals(left, [name, dirs.otherNamespace, dirs.unnamed, link, target.slice(root.length + 1)].sort());
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
