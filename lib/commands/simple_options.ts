/**
 * The common command lines of `ghcpw ghc` parsed without node:util: loading its parseArgs costs ~6 ms, and
 * the client starts once per compiled module. Only lines that are plainly well formed are parsed here;
 * anything else is left to {@linkcode parseOptions} in lib/commands/options.ts, so that what it accepts and
 * the wording of its errors stay node's.
 *
 * @module
 */

/** One option of a table as node:util's parseArgs takes it (the subset this module reads). */
interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}

/** The values parseArgs gives for a table of options (strict, no positionals). */
export type OptionValues<T extends Record<string, OptionSpec>> = {
  [K in keyof T]?: T[K]["type"] extends "string" ? T[K]["multiple"] extends true ? string[] : string
    : boolean;
};

/**
 * The values of `args` as parseArgs would give them in strict mode without positionals; null where this
 * parser is not sure: anything but `--name value`, `--name=value` and a boolean's `--name` or `-x`, and a
 * value that looks like an option (which parseArgs refuses as ambiguous).
 */
export function simpleOptions<T extends Record<string, OptionSpec>>(
  args: readonly string[],
  options: T,
): OptionValues<T> | null {
  const values: Record<string, string | boolean | string[]> = {};
  const shorts = new Map(
    Object.entries(options).flatMap(([name, spec]) => spec.short === undefined ? [] : [[spec.short, name]]),
  );
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[^-]$/.test(arg)) {
      name = shorts.get(arg[1]);
    }
    if (name === undefined || !Object.hasOwn(options, name)) return null;
    const spec = options[name];
    if (spec.type === "boolean") {
      if (inline !== undefined || spec.multiple) return null;
      values[name] = true;
      continue;
    }
    if (arg.length === 2) return null;
    let value = inline;
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith("-")) return null;
    }
    const previous = values[name];
    values[name] = spec.multiple ? [...Array.isArray(previous) ? previous : [], value] : value;
  }
  return values as OptionValues<T>;
}
