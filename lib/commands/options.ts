/**
 * Command-line parsing shared by the subcommands: the rules and messages of node:util's strict
 * `parseArgs`, with ghcpw's error wording around them. Written out here rather than imported because
 * loading node:util costs ~18 ms, which `ghcpw ghc` would pay once per compiled module.
 *
 * @module
 */

/** A command line ghcpw cannot accept; the message says what to do instead. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** How an option is written (`--name`, `-s`) and what it takes. */
export interface OptionSpec {
  /** A string option takes a value (`--name V`, `--name=V`, `-sV`); a boolean one takes none. */
  type: "string" | "boolean";
  short?: string;
  /** Whether the option may be repeated; its values are then collected in order. */
  multiple?: boolean;
}

type OptionValue<S extends OptionSpec> = S["type"] extends "string" ? string : boolean;

/** The options given, each with its value (all its values, for a `multiple` one). */
export type OptionValues<T extends Record<string, OptionSpec>> = {
  -readonly [K in keyof T]?: T[K]["multiple"] extends true ? OptionValue<T[K]>[] : OptionValue<T[K]>;
};

/** One option or argument as written, before it is checked. */
type Token =
  | { kind: "option"; name: string; rawName: string; value?: string; inlineValue: boolean }
  | { kind: "positional"; value: string };

/**
 * Parses options strictly, as node:util's `parseArgs` with `strict: true` does: unknown options, missing
 * or unexpected values and (unless allowed) positional arguments become a {@linkcode UsageError}.
 */
export function parseOptions<const T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
): { values: OptionValues<T>; positionals: string[] } {
  try {
    return parseStrict(args, options, allowPositionals);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new UsageError(`ghcpw ${command}: ${message}\nRun 'ghcpw ${command} --help' for the options.`);
  }
}

function parseStrict<T extends Record<string, OptionSpec>>(
  args: string[],
  options: T,
  allowPositionals: boolean,
): { values: OptionValues<T>; positionals: string[] } {
  const spec = (name: string): OptionSpec | undefined =>
    Object.hasOwn(options, name) ? options[name] : undefined;
  const longFor = (short: string) =>
    Object.keys(options).find((name) => options[name].short === short) ?? short;
  const isString = (name: string) => spec(name)?.type === "string";

  const tokens: Token[] = [];
  const remaining = [...args];
  while (remaining.length > 0) {
    const arg = remaining.shift()!;
    if (arg === "--") {
      tokens.push(...remaining.splice(0).map((value) => ({ kind: "positional" as const, value })));
    } else if (arg.length === 2 && arg[0] === "-" && arg[1] !== "-") {
      // -s, taking the next argument as its value if it is a string option
      const name = longFor(arg[1]);
      const value = isString(name) ? remaining.shift() : undefined;
      tokens.push({ kind: "option", name, rawName: arg, value, inlineValue: false });
    } else if (arg.length > 2 && arg[0] === "-" && arg[1] !== "-") {
      const name = longFor(arg[1]);
      if (isString(name)) {
        tokens.push({
          kind: "option",
          name,
          rawName: arg.slice(0, 2),
          value: arg.slice(2),
          inlineValue: true,
        });
      } else {
        // A group of short options: -abc is -a -b -c, and -abfFILE is -a -b -fFILE.
        const expanded: string[] = [];
        for (let i = 1; i < arg.length; i++) {
          if (!isString(longFor(arg[i])) || i === arg.length - 1) {
            expanded.push(`-${arg[i]}`);
          } else {
            expanded.push(`-${arg.slice(i)}`);
            break;
          }
        }
        remaining.unshift(...expanded);
      }
    } else if (arg.length > 2 && arg.startsWith("--")) {
      const equals = arg.indexOf("=", 3);
      if (equals < 0) {
        const value = isString(arg.slice(2)) ? remaining.shift() : undefined;
        tokens.push({ kind: "option", name: arg.slice(2), rawName: arg, value, inlineValue: false });
      } else {
        const name = arg.slice(2, equals);
        tokens.push({
          kind: "option",
          name,
          rawName: `--${name}`,
          value: arg.slice(equals + 1),
          inlineValue: true,
        });
      }
    } else {
      tokens.push({ kind: "positional", value: arg });
    }
  }

  const values: Record<string, string | boolean | (string | boolean)[]> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (!allowPositionals) {
        throw new Error(
          `Unexpected argument '${token.value}'. This command does not take positional arguments`,
        );
      }
      positionals.push(token.value);
      continue;
    }
    const option = spec(token.name);
    if (option === undefined) {
      const hint = allowPositionals
        ? `. To specify a positional argument starting with a '-', place it at the end of the command after ` +
          `'--', as in '-- ${JSON.stringify(token.rawName)}`
        : "";
      throw new Error(`Unknown option '${token.rawName}'${hint}`);
    }
    const written = `${option.short ? `-${option.short}, ` : ""}--${token.name}`;
    if (option.type === "string" && token.value === undefined) {
      throw new Error(`Option '${written} <value>' argument missing`);
    }
    if (option.type === "boolean" && token.value !== undefined) {
      throw new Error(`Option '${written}' does not take an argument`);
    }
    if (!token.inlineValue && token.value !== undefined && token.value.length > 1 && token.value[0] === "-") {
      const example = token.rawName.startsWith("--")
        ? `'${token.rawName}=-XYZ'`
        : `'--${token.name}=-XYZ' or '${token.rawName}-XYZ'`;
      throw new Error(
        `Option '${token.rawName}' argument is ambiguous.\n` +
          `Did you forget to specify the option argument for '${token.rawName}'?\n` +
          `To specify an option argument starting with a dash use ${example}.`,
      );
    }
    const value = token.value ?? true;
    if (option.multiple) {
      const previous = values[token.name];
      values[token.name] = Array.isArray(previous) ? [...previous, value] : [value];
    } else {
      values[token.name] = value;
    }
  }
  return { values: values as OptionValues<T>, positionals };
}

/** Parses a positive integer option value, or throws a {@linkcode UsageError} naming the option. */
export function positiveInteger(command: string, option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(
      `ghcpw ${command}: ${option} needs a positive whole number, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * Parses a size option value: a number of bytes, or a number with a unit K, M, G or T (powers of 1024;
 * `512M`, `1.5G`, `2GiB`). Throws a {@linkcode UsageError} naming the option, with an example.
 */
export function byteSize(command: string, option: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:([KMGT])(?:i?B)?|B)?$/i.exec(value.trim());
  const power = match?.[2] ? "KMGT".indexOf(match[2].toUpperCase()) + 1 : 0;
  const bytes = match === null ? NaN : Math.round(Number(match[1]) * 1024 ** power);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      `ghcpw ${command}: ${option} needs a size in bytes or with a unit, such as 512M or 2G; ` +
        `got ${JSON.stringify(value)}`,
    );
  }
  return bytes;
}
