/**
 * The client's settings from the environment, shared by everything that compiles through the client
 * (`ghcpw ghc`, the Buck2 worker), so that both read GHCPW_STRICT and GHCPW_AUTOSTART the same way.
 *
 * @module
 */

/** Whether a failed server may be replaced by running the real ghc, and whether to start a server. */
export interface ClientSettings {
  strict: boolean;
  autostart: boolean;
}

const YES = ["1", "true", "yes"];
const NO = ["0", "false", "no"];

/**
 * GHCPW_STRICT=1 forbids the fallback to the real ghc. GHCPW_AUTOSTART=1 allows starting a server on an
 * explicit socket, 0 forbids it everywhere; unset, only the keyed default socket (`socketPath`
 * undefined) gets one: an explicit socket is someone's deliberate set-up (a test, a CI service), which a
 * stray background server would confuse.
 */
export function clientSettings(
  socketPath: string | undefined,
  env: (name: string) => string | undefined = Deno.env.get,
): ClientSettings {
  const autostart = env("GHCPW_AUTOSTART") ?? "";
  return {
    strict: YES.includes(env("GHCPW_STRICT") ?? ""),
    autostart: YES.includes(autostart) ? true : NO.includes(autostart) ? false : socketPath === undefined,
  };
}
