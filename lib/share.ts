/**
 * What a GHC worker keeps between requests (`--share`), parsed and checked in one place for `serve`,
 * `bazel`, the client (`ghcpw ghc`, `ghcpw buck2`), `status` and `stop`. A module without imports: the
 * client loads it on every compile.
 *
 * @module
 */

/** The parts of a worker's state that can be kept, in the order they are written. */
export const SHARE_ELEMENTS = ["names", "databases", "interfaces", "code"] as const;

/** One part of a worker's state that can be kept. */
export type ShareElement = typeof SHARE_ELEMENTS[number];

/** A share setting: the set of elements kept, always in {@linkcode SHARE_ELEMENTS} order. */
export type Share = readonly ShareElement[];

/**
 * The default (`all`): what this version keeps with results proven equal to cold ghc's on every tested GHC.
 * Loaded code (`code`) is offered but not part of it (README, "What a worker keeps").
 */
export const DEFAULT_SHARE: Share = ["names", "databases", "interfaces"];

/** Elements whose kept state holds names, and what holds them. */
const NAME_HOLDERS: ReadonlyArray<readonly [ShareElement, string]> = [
  ["interfaces", "kept interfaces"],
  ["code", "the kept linker's closures"],
];

/**
 * Elements earlier versions offered, with why they are gone: a setting kept in a configuration or in
 * `$GHCPW_SHARE` gets that reason rather than a bare "unknown element".
 */
const WITHDRAWN: Readonly<Record<string, string>> = {
  "home-interfaces": "--share home-interfaces was withdrawn: keeping home modules' interfaces made " +
    "one-shot compiles slower, not faster, and compiling a module again while its own interface was kept " +
    'failed (README, "What a worker keeps"); leave it out, home interfaces are read from disk',
};

/** A `--share` value that cannot be accepted; the message says why and what is allowed. */
export class ShareError extends Error {
  override name = "ShareError";
}

/**
 * Parses a `--share` value: `none`, or a comma-separated set of {@linkcode SHARE_ELEMENTS} and `all`
 * (the default's elements; `all,code` adds loaded code). Interfaces and loaded code hold names made by the
 * name cache, so either without `names` is refused rather than quietly widened: the user asked not to
 * share names, maybe for byte-identical objects.
 */
export function parseShare(text: string): Share {
  const words = text.split(",").map((w) => w.trim());
  if (words.length === 1 && words[0] === "none") return [];
  const chosen = new Set<ShareElement>();
  for (const word of words) {
    if (word === "all") {
      DEFAULT_SHARE.forEach((e) => chosen.add(e));
    } else if ((SHARE_ELEMENTS as readonly string[]).includes(word)) {
      chosen.add(word as ShareElement);
    } else if (Object.hasOwn(WITHDRAWN, word)) {
      throw new ShareError(WITHDRAWN[word]);
    } else {
      throw new ShareError(
        `--share takes none, or a comma-separated set of all, ${SHARE_ELEMENTS.join(", ")}; got ` +
          JSON.stringify(text),
      );
    }
  }
  for (const [element, holder] of NAME_HOLDERS) {
    if (chosen.has(element) && !chosen.has("names")) {
      throw new ShareError(
        `--share ${element} needs names too: ${holder} hold names of the kept name cache ` +
          "(leave out both for byte-identical objects)",
      );
    }
  }
  return SHARE_ELEMENTS.filter((e) => chosen.has(e));
}

/** The setting as `--share` and the plugin's `share=` option take it: `none` or the elements joined. */
export function formatShare(share: Share): string {
  return share.length === 0 ? "none" : share.join(",");
}

/**
 * Whether workers with this setting write `.o` files byte-identical to cold ghc's. Only a kept name cache
 * changes them (local symbol names come from the unique counter, which can restart only with it), so this
 * is the one part of the setting in the server key.
 */
export function deterministicObjects(share: Share): boolean {
  return !share.includes("names");
}

/** The setting from a `--share` option, else `$GHCPW_SHARE`, else the default. */
export function shareSetting(
  option: string | undefined,
  env: string | undefined = Deno.env.get("GHCPW_SHARE"),
): Share {
  const text = option ?? env;
  return text === undefined || text === "" ? DEFAULT_SHARE : parseShare(text);
}
