/**
 * Each request's temporary directory (lib/compile/compile.ts) is removed by the process that made it when the
 * request ends; one that is killed meanwhile (a server SIGKILLed mid-compile) leaves it behind, with the
 * temporaries of GHC inside. So the name says who made it — pid namespace, pid and the
 * process's start time — and a later ghcpw process removes those whose maker is gone. The start time
 * makes a recycled pid count as gone and the namespace keeps a process from judging pids of another
 * (a container sharing /tmp). A name without all three is never removed: nobody can tell whose it is.
 *
 * Linux only (it needs /proc); elsewhere directories carry no owner and are left alone.
 *
 * @module
 */

import { processStat, runs } from "../process/state.ts";

/** Name prefix of each request's temporary directory (in the system's temporary directory). */
export const REQUEST_DIR_PREFIX = "ghcpw-request-";

/** Where request directories go (what Deno.makeTempDir would choose, spelled out so cleaning looks there). */
export function requestDirRoot(): string {
  return Deno.env.get("TMPDIR") || "/tmp";
}

async function pidNamespace(): Promise<string | null> {
  try {
    return /^pid:\[(\d+)\]$/.exec(await Deno.readLink("/proc/self/ns/pid"))?.[1] ?? null;
  } catch {
    return null;
  }
}

interface Owner {
  namespace: string;
  pid: number;
  start: string;
}

let ownTag: Promise<string | null> | undefined;

/** This process's part of request directory names ("NS.PID.START"), null where it cannot be told. */
function ownerTag(): Promise<string | null> {
  ownTag ??= (async () => {
    const [namespace, self] = [await pidNamespace(), processStat("self")];
    return namespace !== null && self !== null ? `${namespace}.${Deno.pid}.${self.start}` : null;
  })();
  return ownTag;
}

/**
 * Creates a fresh request directory, named after this process. Synchronously once the name is known: a
 * request waits for it, and an asynchronous call costs it ten times as long as the directory itself.
 */
export async function makeRequestDir(root = requestDirRoot()): Promise<string> {
  const tag = await ownerTag();
  return Deno.makeTempDirSync({
    dir: root,
    prefix: tag === null ? REQUEST_DIR_PREFIX : `${REQUEST_DIR_PREFIX}${tag}-`,
  });
}

const removals = new Set<Promise<void>>();

/**
 * Removes a request's directory without making anyone wait: the answer goes to the client first. A
 * removal that fails leaves the directory to {@linkcode removeStaleRequestDirs} of a later process.
 */
export function removeRequestDirLater(dir: string): void {
  const removal: Promise<void> = Deno.remove(dir, { recursive: true })
    .catch(() => {})
    .finally(() => removals.delete(removal));
  removals.add(removal);
}

/** Resolves once every removal started by {@linkcode removeRequestDirLater} has ended (before an exit). */
export async function requestDirsRemoved(): Promise<void> {
  await Promise.all(removals);
}

const OWNED_NAME = new RegExp(
  `^${REQUEST_DIR_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\d+)\\.(\\d+)\\.(\\d+)-`,
);

/** The process a request directory's name says made it, or null if the name says none. */
export function requestDirOwner(name: string): Owner | null {
  const m = OWNED_NAME.exec(name);
  return m ? { namespace: m[1], pid: Number(m[2]), start: m[3] } : null;
}

/**
 * Removes the request directories in `root` whose maker has exited, if they belong to this user, and
 * returns their paths. Directories of running processes, of other pid namespaces and without an owner
 * in their name are kept.
 */
export async function removeStaleRequestDirs(root = requestDirRoot()): Promise<string[]> {
  const tag = await ownerTag();
  if (tag === null) return [];
  const namespace = tag.slice(0, tag.indexOf("."));
  const uid = Deno.uid();
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(root));
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const owner = entry.isDirectory ? requestDirOwner(entry.name) : null;
    if (owner === null || owner.namespace !== namespace) continue;
    const info = processStat(owner.pid);
    // The same process only if it started when the owner did: a recycled pid has another start time.
    if (info !== null && info.start === owner.start && runs(info)) continue;
    const path = `${root}/${entry.name}`;
    try {
      const stat = await Deno.lstat(path);
      if (!stat.isDirectory || stat.uid !== uid) continue;
      await Deno.remove(path, { recursive: true });
      removed.push(path);
    } catch {
      // Removed by another process cleaning at the same time, or not ours to remove.
    }
  }
  return removed;
}
