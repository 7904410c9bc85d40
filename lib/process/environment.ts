/**
 * A process environment as the kernel holds it: `NAME=VALUE` entries of bytes, which need not be UTF-8.
 * Deno's own view (Deno.env) silently drops entries that are not, so the client reads its environment from
 * /proc, the wire carries the bytes, and the worker sets them as bytes: a variable reaches GHC exactly as
 * plain ghc would have seen it.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const EQUALS = 0x3d;

/** A complete environment. */
export class Environment {
  /**
   * @param entries `NAME=VALUE` entries, each name once (the first wins, as for getenv)
   * @param own whether it is this process's own environment, unchanged: a child can then simply inherit it
   */
  private constructor(readonly entries: readonly Uint8Array[], readonly own: boolean) {}

  /** This process's environment, with every entry (on Linux; elsewhere what Deno.env holds). */
  static ofThisProcess(): Environment {
    let environ: Uint8Array;
    try {
      environ = Deno.readFileSync("/proc/self/environ");
    } catch {
      return new Environment(Environment.fromRecord(Deno.env.toObject()).entries, true);
    }
    const entries: Uint8Array[] = [];
    for (let start = 0; start < environ.length;) {
      const end = environ.indexOf(0, start);
      entries.push(environ.subarray(start, end < 0 ? environ.length : end));
      start = end < 0 ? environ.length : end + 1;
    }
    return new Environment(distinct(entries), true);
  }

  /** An environment of `NAME=VALUE` entries (from the wire); malformed and repeated ones are left out. */
  static fromEntries(entries: readonly Uint8Array[]): Environment {
    return new Environment(distinct(entries), false);
  }

  /** An environment of text variables. */
  static fromRecord(record: Readonly<Record<string, string>>): Environment {
    return new Environment(Object.entries(record).map(([k, v]) => encoder.encode(`${k}=${v}`)), false);
  }

  /** A variable's value, decoded as UTF-8 (other bytes become U+FFFD): for decisions, not to pass on. */
  get(name: string): string | undefined {
    const prefix = encoder.encode(`${name}=`);
    const entry = this.entries.find((e) => prefix.every((b, i) => e[i] === b));
    return entry === undefined ? undefined : decoder.decode(entry.subarray(prefix.length));
  }

  /** The variables as text, or null if any name or value is not UTF-8 (Deno can pass on only text). */
  toRecord(): Record<string, string> | null {
    const record: Record<string, string> = {};
    for (const entry of this.entries) {
      const eq = entry.indexOf(EQUALS);
      try {
        record[strictDecoder.decode(entry.subarray(0, eq))] = strictDecoder.decode(entry.subarray(eq + 1));
      } catch {
        return null;
      }
    }
    return record;
  }
}

/** The well-formed entries (a name, then `=`), each name's first only. */
function distinct(entries: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const eq = entry.indexOf(EQUALS);
    // Names as latin1 strings: one character per byte, so any bytes compare exactly.
    const name = eq > 0 ? String.fromCharCode(...entry.subarray(0, eq)) : null;
    if (name === null || seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}
