/**
 * apt's source entries: reading them (one-line and deb822 formats) and finding the Debian suite and
 * mirror this system installs from.
 *
 * @module
 */

/** One apt source entry (from one-line or deb822 files). */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** The deb822 `Signed-By` value, or the one-line `[signed-by=...]` option; "" if none. */
  signedBy: string;
}

/** Parses the one-line format (`deb [options] URI SUITE COMPONENTS...`). */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    let signedBy = "";
    const withoutOptions = line.replace(/\[([^\]]*)\]/, (_, opts: string) => {
      signedBy = /signed-by=(\S+)/.exec(opts)?.[1] ?? "";
      return "";
    });
    const [type, uri, suite, ...components] = withoutOptions.split(/\s+/);
    if (!uri || !suite) continue;
    sources.push({ types: [type], uris: [uri], suites: [suite], components, signedBy });
  }
  return sources;
}

/** Parses the deb822 format (`Types:`, `URIs:`, `Suites:` stanzas separated by blank lines). */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(last = m[1].toLowerCase(), m[2].trim());
      else if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    }
    if (fields.get("enabled")?.toLowerCase() === "no") continue;
    const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").length || !words("uris").length) continue;
    sources.push({
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
      signedBy: fields.get("signed-by") ?? "",
    });
  }
  return sources;
}

/** Every apt source entry configured under `root` (default: this system). */
export async function readAptSources(root = ""): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const read = async (path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch {
      return null;
    }
  };
  const main = await read(`${root}/etc/apt/sources.list`);
  if (main !== null) sources.push(...parseOneLineSources(main));
  const dir = `${root}/etc/apt/sources.list.d`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch {
    // no directory: only sources.list
  }
  for (const name of names.sort()) {
    const text = await read(`${dir}/${name}`);
    if (text === null) continue;
    if (name.endsWith(".list")) sources.push(...parseOneLineSources(text));
    else if (name.endsWith(".sources")) sources.push(...parseDeb822Sources(text));
  }
  return sources;
}

/** The Debian archive entry this system installs from: a `deb` source of a plain suite (not -security). */
export function mainDebianSource(
  sources: AptSource[],
): { uri: string; suite: string; signedBy: string } | null {
  for (const source of sources) {
    if (!source.types.includes("deb")) continue;
    const uri = source.uris.find((u) => !/security/.test(u));
    const suite = source.suites.find((s) => !s.includes("-") && !s.includes("/"));
    if (uri && suite && source.components.includes("main")) return { uri, suite, signedBy: source.signedBy };
  }
  return null;
}

/**
 * The running Debian suite. The apt sources are the authority, because sid's /etc/os-release names the
 * next testing release (VERSION_CODENAME=forky) while its packages come from sid; /etc/os-release's
 * VERSION_CODENAME is the fallback, and "sid" when it has none.
 */
export async function debianSuite(root = ""): Promise<string> {
  const main = mainDebianSource(await readAptSources(root));
  if (main) return main.suite;
  try {
    const osRelease = await Deno.readTextFile(`${root}/etc/os-release`);
    const codename = /^VERSION_CODENAME=["']?([^"'\n]*)/m.exec(osRelease)?.[1];
    if (codename) return codename;
  } catch {
    // no os-release: treat as sid
  }
  return "sid";
}
