/**
 * What a server started in the background does first: let go of every file descriptor it inherited.
 * A server started by a build keeps running after the build, and an inherited descriptor — the write end
 * of the build tool's output pipe, a jobserver pipe, a lock — would keep that resource open for weeks:
 * the build tool waits forever for end-of-file (sccache's best-known start-up bug).
 *
 * Its standard streams are already /dev/null (lib/client/autostart.ts) and it runs in a session of its own
 * (Deno's `detached` calls setsid). Descriptors Deno opens itself are all close-on-exec; inherited ones
 * are exactly those without that flag, so those are the ones closed.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["ghcpw", "daemon"]);

const F_GETFD = 1;
const FD_CLOEXEC = 1;

/** Closes inherited descriptors above stderr; resolves to how many were closed. Linux and macOS. */
export function closeInheritedDescriptors(): number {
  const libc = openLibc();
  if (libc === null) {
    log.warning("Cannot load the C library to close inherited file descriptors; leaving them open");
    return 0;
  }
  try {
    const listing = Deno.build.os === "linux" ? "/proc/self/fd" : "/dev/fd";
    // Collect first: reading the directory uses a descriptor of its own (close-on-exec, so kept).
    const fds = [...Deno.readDirSync(listing)].map((e) => Number(e.name)).filter((fd) => fd > 2);
    let closed = 0;
    for (const fd of fds) {
      const flags = libc.symbols.fcntl(fd, F_GETFD);
      if (flags >= 0 && (flags & FD_CLOEXEC) === 0 && libc.symbols.close(fd) === 0) closed++;
    }
    return closed;
  } finally {
    libc.close();
  }
}

function openLibc() {
  const symbols = {
    // fcntl is variadic; F_GETFD takes no third argument, so only the fixed ones are declared (passing
    // variadic arguments as fixed ones breaks on some ABIs).
    fcntl: { parameters: ["i32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  } as const;
  const names = Deno.build.os === "darwin" ? ["libSystem.B.dylib"] : ["libc.so.6", "libc.so"];
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols);
    } catch {
      // try the next name
    }
  }
  return null;
}
