/**
 * Generates a synthetic Haskell project for benchmarking ghcpw: N ordinary modules arranged as a layered
 * DAG (each imports 1-3 earlier modules by default, more with --imports, plus base and containers), a
 * Main that imports every module no other module imports and prints a deterministic result, and
 * optionally a Template Haskell library with two modules whose splices run it. The same seed always
 * gives the same project, so cold and warm builds compile identical sources.
 *
 * Run `deno run -A scripts/gen_project.ts --help` for the command line; scripts/bench.ts imports it.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What kind of module a {@linkcode ModuleSpec} is; each kind has its own template. */
export type ModuleKind = "plain" | "th-lib" | "splice" | "main";

/** One module of the project: its name, source path (relative to the project root) and home imports. */
export interface ModuleSpec {
  name: string;
  /** Source file relative to the project directory, e.g. `src/Synth/Core/M07.hs`. */
  file: string;
  kind: ModuleKind;
  /** Position in the layered DAG: a module imports only modules of lower layers. */
  layer: number;
  /** Home modules this module imports. */
  imports: string[];
  /** Suffix of the module's identifiers (`Item07`, `score07`); empty for modules without one. */
  tag: string;
}

/** A generated project: its modules, a topological order of them, and the text of every file. */
export interface Project {
  modules: ModuleSpec[];
  /** Module names, each after all modules it imports. */
  order: string[];
  /** The Main module's name. */
  main: string;
  /** File path (relative to the project directory) to file contents. */
  files: Map<string, string>;
}

/** Options of {@linkcode generateProject}. */
export interface ProjectOptions {
  /** Number of ordinary modules, not counting Main and the Template Haskell modules. */
  modules: number;
  /** Add a Template Haskell library and two modules with splices that use it. */
  th: boolean;
  /** Seed of the generator's pseudo-random choices. */
  seed: number;
  /**
   * Most home modules an ordinary module imports: one of the layer below and up to this many less one
   * of any earlier layer. Real code bases import ten or more home modules per module; the default keeps
   * the projects the benchmark has always measured.
   */
  imports: number;
}

/** The defaults: 30 ordinary modules importing up to 3 home modules each, no Template Haskell, seed 1. */
export const DEFAULT_PROJECT_OPTIONS: ProjectOptions = { modules: 30, th: false, seed: 1, imports: 3 };

/** Name of the file {@linkcode writeProject} records the modules and their order in. */
export const MODULES_JSON = "modules.json";

const LAYER_NAMES = ["Base", "Core", "Model", "Store", "Logic", "Service", "Api", "Web", "App"];

/**
 * A small deterministic pseudo-random generator (xorshift32) returning numbers in [0, 1), so a seed
 * reproduces a project exactly without depending on Math.random.
 */
export function makeRandom(seed: number): () => number {
  let state = (seed >>> 0) ^ 0x9e3779b9 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

/** A whole number in [low, high] drawn from `random`. */
function between(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

/** A module's source file relative to the project directory, e.g. `src/Synth/Core/M07.hs`. */
export function moduleFile(name: string): string {
  return `src/${name.replaceAll(".", "/")}.hs`;
}

/**
 * Lays out the modules: ordinary modules in about sqrt(N) layers, each importing one module of the
 * previous layer and up to `imports` - 1 of any earlier layer; with `th`, a TH library above layer 0
 * and two splice modules importing it and an ordinary module; Main importing every module nobody else imports.
 */
export function planModules(options: ProjectOptions): ModuleSpec[] {
  const random = makeRandom(options.seed);
  const n = options.modules;
  if (!Number.isInteger(n) || n < 1) throw new Error(`the number of modules must be at least 1, got ${n}`);
  const most = options.imports;
  if (!Number.isInteger(most) || most < 1) {
    throw new Error(`imports per module must be at least 1, got ${most}`);
  }
  const layers = Math.max(1, Math.round(Math.sqrt(n)));
  const perLayer = Math.ceil(n / layers);
  const width = String(n - 1).length < 2 ? 2 : String(n - 1).length;
  const plain: ModuleSpec[] = [];
  for (let i = 0; i < n; i++) {
    const layer = Math.floor(i / perLayer);
    const tag = String(i).padStart(width, "0");
    const name = `Synth.${LAYER_NAMES[layer] ?? `L${layer}`}.M${tag}`;
    const imports: string[] = [];
    if (layer > 0) {
      const previous = plain.filter((m) => m.layer === layer - 1);
      imports.push(previous[between(random, 0, previous.length - 1)].name);
      const earlier = plain.filter((m) => m.layer < layer && !imports.includes(m.name));
      const extra = Math.min(between(random, 0, most - 1), earlier.length);
      for (let k = 0; k < extra; k++) {
        const candidates = earlier.filter((m) => !imports.includes(m.name));
        imports.push(candidates[between(random, 0, candidates.length - 1)].name);
      }
    }
    plain.push({ name, file: moduleFile(name), kind: "plain", layer, imports, tag });
  }
  const modules = [...plain];
  if (options.th) {
    const lib = "Synth.Meta.Derive";
    modules.push({
      name: lib,
      file: moduleFile(lib),
      kind: "th-lib",
      layer: 1,
      imports: [plain[0].name],
      tag: "",
    });
    const lastLayer = plain[plain.length - 1].layer;
    const targets = [
      plain[Math.floor(n / 2)],
      plain[n - 1],
    ];
    ["UseA", "UseB"].forEach((suffix, k) => {
      const name = `Synth.Meta.${suffix}`;
      const target = targets[k];
      modules.push({
        name,
        file: moduleFile(name),
        kind: "splice",
        layer: Math.max(2, target.layer + 1, k === 1 ? lastLayer + 1 : 0),
        imports: [lib, target.name],
        tag: suffix.slice(3),
      });
    });
  }
  const imported = new Set(modules.flatMap((m) => m.imports));
  const roots = modules.filter((m) => !imported.has(m.name)).map((m) => m.name);
  const mainLayer = Math.max(...modules.map((m) => m.layer)) + 1;
  modules.push({
    name: "Main",
    file: "src/Main.hs",
    kind: "main",
    layer: mainLayer,
    imports: roots,
    tag: "",
  });
  return modules;
}

/**
 * A topological order of `modules` (Kahn's algorithm): every module comes after the modules it imports;
 * among the modules ready at a time, lower layers and then earlier positions come first. Throws on a
 * cycle or an import of an unknown module.
 */
export function dependencyOrder(modules: readonly ModuleSpec[]): string[] {
  const byName = new Map(modules.map((m, i) => [m.name, { spec: m, position: i }]));
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const m of modules) {
    waiting.set(m.name, m.imports.length);
    for (const dep of m.imports) {
      if (!byName.has(dep)) throw new Error(`${m.name} imports unknown module ${dep}`);
      dependents.set(dep, [...(dependents.get(dep) ?? []), m.name]);
    }
  }
  const key = (name: string) => {
    const { spec, position } = byName.get(name)!;
    return spec.layer * modules.length + position;
  };
  const ready = modules.filter((m) => m.imports.length === 0).map((m) => m.name);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => key(a) - key(b));
    const next = ready.shift()!;
    order.push(next);
    for (const dependent of dependents.get(next) ?? []) {
      const left = waiting.get(dependent)! - 1;
      waiting.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  if (order.length !== modules.length) throw new Error("the module graph has a cycle");
  return order;
}

/** How a module refers to the exports of one of its imports: unqualified or through an alias. */
interface ImportStyle {
  spec: ModuleSpec;
  /** Prefix for the import's names: "" or `M07.`. */
  q: string;
}

/** The `import` line for a plain dependency, qualified or with an explicit import list. */
function importLine(style: ImportStyle): string {
  const t = style.spec.tag;
  return style.q === ""
    ? `import ${style.spec.name} (Item${t} (..), Measure${t} (..), catalogue${t}, score${t}, weight${t})`
    : `import qualified ${style.spec.name} as ${style.q.slice(0, -1)}`;
}

/** Optional helper functions; each module picks some, so modules differ in size and shape. */
const HELPERS: ((t: string) => { code: string; use: string })[] = [
  (t) => ({
    code: `-- | Weight per tag, summed over the catalogue.
byTag${t} :: Map.Map String Item${t} -> Map.Map String Int
byTag${t} cat =
  Map.fromListWith (+) [(tag, item${t}Weight it) | it <- Map.elems cat, tag <- item${t}Tags it]
`,
    use: `show (Map.toList (byTag${t} cat))`,
  }),
  (t) => ({
    code: `-- | Doubles the weight of the named item, if there is one.
bump${t} :: String -> Map.Map String Item${t} -> Maybe Item${t}
bump${t} key cat =
  case Map.lookup key cat of
    Nothing -> Nothing
    Just it -> Just it {item${t}Weight = item${t}Weight it * 2, item${t}Tags = "bumped" : item${t}Tags it}
`,
    use: `maybe "none" (show . item${t}Weight) (bump${t} ("m${t}-" ++ show (n \`div\` 2 + 1)) cat)`,
  }),
  (t) => ({
    code: `-- | The heaviest shape and its area, folding with a strict accumulator.
heaviest${t} :: [Shape${t}] -> (Int, Maybe Shape${t})
heaviest${t} = foldl' step (minBound, Nothing)
  where
    step (best, found) s
      | measure${t} s > best = (measure${t} s, Just s)
      | otherwise = (best, found)
`,
    use: `show (heaviest${t} (shapes${t} (n + 3)))`,
  }),
  (t) => ({
    code: `-- | Items whose weight is above the average, by name.
aboveAverage${t} :: Map.Map String Item${t} -> [String]
aboveAverage${t} cat
  | Map.null cat = []
  | otherwise = Map.keys (Map.filter ((> avg) . item${t}Weight) cat)
  where
    avg = sum (map item${t}Weight (Map.elems cat)) \`div\` Map.size cat
`,
    use: `show (length (aboveAverage${t} cat))`,
  }),
];

/** The source of an ordinary module: records, a sum type, a class with instances, and functions. */
function renderPlain(spec: ModuleSpec, byName: Map<string, ModuleSpec>, random: () => number): string {
  const t = spec.tag;
  const deps: ImportStyle[] = spec.imports.map((name, k) => {
    const dep = byName.get(name)!;
    return { spec: dep, q: k === 0 ? "" : `M${dep.tag}.` };
  });
  const first = deps[0];
  const helpers = HELPERS.filter(() => random() < 0.4).map((h) => h(t));
  const base = between(random, 3, 997);
  const imports = [
    "import Data.Char (toUpper)",
    "import Data.List (foldl', sortOn)",
    "import qualified Data.Map.Strict as Map",
    "import qualified Data.Set as Set",
    ...deps.map(importLine),
  ];
  const weight = deps.length === 0
    ? `${base}`
    : `(${deps.map((d) => `${d.q}weight${d.spec.tag}`).join(" * 31 + ")} + ${base}) \`mod\` 10007`;
  const recursive = first === undefined ? `score${t} (n \`div\` 2)` : `score${first.spec.tag} (n \`div\` 2)`;
  const other = deps.length > 1 ? `${deps[1].q}score${deps[1].spec.tag} (n - 1)` : `score${t} (n - 1)`;
  const crossInstances = first === undefined ? "" : `
instance Measure${t} Item${first.spec.tag} where
  measure${t} x = measure${first.spec.tag} x + ${between(random, 1, 9)}

instance Measure${first.spec.tag} Item${t} where
  measure${first.spec.tag} = (* 2) . item${t}Weight
`;
  const depUse = first === undefined
    ? `show (measure${t} [Circle${t} 1, Rect${t} 2 3])`
    : `show (measure${t} (Map.elems (catalogue${first.spec.tag} 3)))
    , show (sum (map measure${first.spec.tag} items))`;
  return `-- | Synthetic module ${spec.name} (layer ${spec.layer}), generated by scripts/gen_project.ts.
module ${spec.name}
  ( Item${t} (..)
  , Shape${t} (..)
  , Stats${t} (..)
  , Tagged${t} (..)
  , Measure${t} (..)
  , weight${t}
  , score${t}
  , shapes${t}
  , catalogue${t}
  , summary${t}
  ) where

${imports.join("\n")}

-- | A catalogue entry.
data Item${t} = Item${t}
  { item${t}Name :: String
  , item${t}Weight :: !Int
  , item${t}Tags :: [String]
  }
  deriving (Show, Eq, Ord)

data Shape${t}
  = Circle${t} !Int
  | Rect${t} !Int !Int
  | Poly${t} [Int]
  deriving (Show, Eq)

newtype Tagged${t} a = Tagged${t} {untag${t} :: (String, a)}
  deriving (Show)

instance Functor Tagged${t} where
  fmap f (Tagged${t} (label, x)) = Tagged${t} (label, f x)

data Stats${t} = Stats${t} {stats${t}Count :: !Int, stats${t}Total :: !Int, stats${t}Max :: !Int}

instance Semigroup Stats${t} where
  Stats${t} c1 t1 m1 <> Stats${t} c2 t2 m2 = Stats${t} (c1 + c2) (t1 + t2) (max m1 m2)

instance Monoid Stats${t} where
  mempty = Stats${t} 0 0 minBound

-- | Things with a size.
class Measure${t} a where
  measure${t} :: a -> Int
  describe${t} :: a -> String
  describe${t} x = "M${t}<" ++ show (measure${t} x) ++ ">"

instance Measure${t} Item${t} where
  measure${t} = item${t}Weight

instance Measure${t} Shape${t} where
  measure${t} (Circle${t} r) = 3 * r * r
  measure${t} (Rect${t} w h) = w * h
  measure${t} (Poly${t} xs) = sum xs
  describe${t} s = map toUpper (show s)

instance Measure${t} a => Measure${t} [a] where
  measure${t} = sum . map measure${t}
${crossInstances}
-- | A constant depending on the imported modules' constants.
weight${t} :: Int
weight${t} = ${weight}

-- | A score that recurses through one imported module per call.
score${t} :: Int -> Int
score${t} n
  | n <= 0 = weight${t}
  | even n = (${recursive} + measure${t} (shapes${t} n)) \`mod\` 1000003
  | otherwise = (n * weight${t} + ${other}) \`mod\` 1000003

shapes${t} :: Int -> [Shape${t}]
shapes${t} n = [Circle${t} (n \`mod\` 5), Rect${t} (n \`mod\` 7) 3, Poly${t} [1 .. n \`mod\` 4]]

-- | A catalogue of n items, keyed by name.
catalogue${t} :: Int -> Map.Map String Item${t}
catalogue${t} n = Map.fromList [(item${t}Name it, it) | k <- [1 .. n], let it = mkItem k]
  where
    mkItem k =
      Item${t}
        { item${t}Name = "m${t}-" ++ show k
        , item${t}Weight = (k * ${between(random, 2, 50)} + score${t} k) \`mod\` 101
        , item${t}Tags = ["t" ++ show (k \`mod\` 3), "w" ++ show (weight${t} \`mod\` 5)]
        }

${helpers.map((h) => h.code).join("\n")}
-- | One line describing this module's values for n.
summary${t} :: Int -> String
summary${t} n =
  unwords
    [ "M${t}"
    , show (stats${t}Count stats, stats${t}Total stats, stats${t}Max stats)
    , show (Set.size tags)
    , show (map item${t}Name top)
    , show (score${t} n)
    , ${depUse}
    , describe${t} (head (shapes${t} n))
    , show (untag${t} (fmap (+ 1) (Tagged${t} ("w", weight${t}))))${
    helpers.map((h) => `\n    , ${h.use}`).join("")
  }
    ]
  where
    cat = catalogue${t} n
    items = Map.elems cat
    stats = foldMap (\\it -> Stats${t} 1 (measure${t} it) (measure${t} it)) items
    tags = Set.fromList (concatMap item${t}Tags items)
    top = take 3 (sortOn (negate . item${t}Weight) items)
`;
}

/** The Template Haskell library: splices that run home code, reify a type, and declare a function. */
function renderThLib(spec: ModuleSpec, byName: Map<string, ModuleSpec>): string {
  const dep = byName.get(spec.imports[0])!;
  return `{-# LANGUAGE TemplateHaskell #-}

-- | Template Haskell helpers, generated by scripts/gen_project.ts. Their splices run home code
-- (score${dep.tag}), so compiling a module that uses them loads ${dep.name}'s object code.
module ${spec.name} (tableOf, constructorNames, mkDescribe) where

import Language.Haskell.TH
import ${dep.name} (score${dep.tag})

-- | A list literal of score${dep.tag} 1 .. n, computed at compile time.
tableOf :: Int -> Q Exp
tableOf n = listE [litE (integerL (fromIntegral (score${dep.tag} k))) | k <- [1 .. n]]

-- | The constructor names of a data type, as a list of string literals.
constructorNames :: Name -> Q Exp
constructorNames ty = do
  info <- reify ty
  case info of
    TyConI (DataD _ _ _ _ cons _) -> listE [stringE (nameBase (conName c)) | c <- cons]
    TyConI (NewtypeD _ _ _ _ con _) -> listE [stringE (nameBase (conName con))]
    _ -> fail ("constructorNames: not a data type: " ++ show ty)
  where
    conName (NormalC n _) = n
    conName (RecC n _) = n
    conName (InfixC _ n _) = n
    conName _ = mkName "unknown"

-- | Declares \`name :: Int -> String\`, which shows its argument after a fixed prefix.
mkDescribe :: String -> String -> Q [Dec]
mkDescribe name prefix = do
  x <- newName "x"
  let f = mkName name
  sig <- sigD f [t|Int -> String|]
  def <- funD f [clause [varP x] (normalB [|prefix ++ show $(varE x)|]) []]
  pure [sig, def]
`;
}

/** A module using the Template Haskell library on a type and function of an ordinary module. */
function renderSplice(spec: ModuleSpec, byName: Map<string, ModuleSpec>, random: () => number): string {
  const lib = byName.get(spec.imports[0])!;
  const target = byName.get(spec.imports[1])!;
  const t = spec.tag;
  const u = target.tag;
  return `{-# LANGUAGE TemplateHaskell #-}

-- | Splices of ${lib.name} at work, generated by scripts/gen_project.ts.
module ${spec.name} (table${t}, shapeNames${t}, describe${t}, summary${t}) where

import ${lib.name} (constructorNames, mkDescribe, tableOf)
import ${target.name} (Shape${u} (..), score${u})

table${t} :: [Int]
table${t} = $(tableOf ${between(random, 5, 12)})

shapeNames${t} :: [String]
shapeNames${t} = $(constructorNames ''Shape${u})

$(mkDescribe "describe${t}" "${t}:")

summary${t} :: String
summary${t} = unwords [show (sum table${t}), show shapeNames${t}, describe${t} (score${u} ${
    between(random, 2, 9)
  })]
`;
}

/** Main: prints every imported module's summary and a combined score. */
function renderMain(spec: ModuleSpec, byName: Map<string, ModuleSpec>): string {
  const deps = spec.imports.map((name) => byName.get(name)!);
  const alias = (m: ModuleSpec) => m.kind === "splice" ? `S${m.tag}` : `M${m.tag}`;
  const lines = deps.map((m, k) =>
    m.kind === "splice" ? `${alias(m)}.summary${m.tag}` : `${alias(m)}.summary${m.tag} ${4 + (k % 5)}`
  );
  const scores = deps.filter((m) => m.kind === "plain").map((m) => `${alias(m)}.score${m.tag} 10`);
  return `-- | The synthetic project's entry point, generated by scripts/gen_project.ts.
module Main (main) where

${deps.map((m) => `import qualified ${m.name} as ${alias(m)}`).join("\n")}

main :: IO ()
main = do
  mapM_
    putStrLn
    [ ${lines.join("\n    , ")}
    ]
  print (sum [${scores.join(", ")}] \`mod\` 1000003)
`;
}

/** Generates the whole project in memory: the module plan, its dependency order and every file's text. */
export function generateProject(options: Partial<ProjectOptions> = {}): Project {
  const opts = { ...DEFAULT_PROJECT_OPTIONS, ...options };
  const modules = planModules(opts);
  const byName = new Map(modules.map((m) => [m.name, m]));
  const random = makeRandom(opts.seed + 7919);
  const files = new Map<string, string>();
  for (const spec of modules) {
    const text = spec.kind === "plain"
      ? renderPlain(spec, byName, random)
      : spec.kind === "th-lib"
      ? renderThLib(spec, byName)
      : spec.kind === "splice"
      ? renderSplice(spec, byName, random)
      : renderMain(spec, byName);
    files.set(spec.file, text);
  }
  const order = dependencyOrder(modules);
  files.set(MODULES_JSON, JSON.stringify({ options: opts, main: "Main", order, modules }, null, 2) + "\n");
  return { modules, order, main: "Main", files };
}

/** Writes a generated project under `dir` (created if missing), including {@linkcode MODULES_JSON}. */
export async function writeProject(dir: string, project: Project): Promise<void> {
  for (const [path, text] of project.files) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
}

export const GEN_HELP = `gen_project.ts: generate a synthetic Haskell project for benchmarking ghcpw

Usage: deno run -A scripts/gen_project.ts [OPTIONS]

Writes N ordinary modules (a layered DAG; each imports 1 to --imports earlier
modules plus base and containers, with records, classes, instances and
functions) under
DIR/src, a Main importing every module no other module imports, and
DIR/${MODULES_JSON} with the modules, their imports and a dependency order.
The same options always give the same files.

Options:
  --modules N   ordinary modules, not counting Main and the TH modules
                (default ${DEFAULT_PROJECT_OPTIONS.modules})
  --out DIR     where to write the project (default: a new temporary directory)
  --th          add a Template Haskell library (Synth.Meta.Derive) and two
                modules with splices using it (Synth.Meta.UseA, Synth.Meta.UseB);
                with a dynamically linked GHC, compile them with -dynamic-too
  --imports N   most home modules an ordinary module imports (default
                ${DEFAULT_PROJECT_OPTIONS.imports}); more makes a wider import graph
  --seed N      seed of the pseudo-random choices (default ${DEFAULT_PROJECT_OPTIONS.seed})
  -h, --help    show this help
`;

/** The command line: parse the options, write the project, print where it went. */
async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      modules: { type: "string" },
      out: { type: "string" },
      th: { type: "boolean" },
      seed: { type: "string" },
      imports: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(GEN_HELP);
    return 0;
  }
  const modules = Number(values.modules ?? DEFAULT_PROJECT_OPTIONS.modules);
  const seed = Number(values.seed ?? DEFAULT_PROJECT_OPTIONS.seed);
  if (!Number.isInteger(modules) || modules < 1) throw new Error(`--modules needs a positive whole number`);
  if (!Number.isInteger(seed)) throw new Error(`--seed needs a whole number`);
  const imports = Number(values.imports ?? DEFAULT_PROJECT_OPTIONS.imports);
  const project = generateProject({ modules, seed, th: values.th ?? false, imports });
  const out = values.out ?? await Deno.makeTempDir({ prefix: "ghcpw-project-" });
  await writeProject(out, project);
  console.log(
    `Wrote ${project.modules.length} modules to ${out} (dependency order in ${out}/${MODULES_JSON})`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`gen_project.ts: ${e instanceof Error ? e.message : e}\nRun with --help for the options.`);
    Deno.exit(2);
  }
}
