"""Per-module Haskell rules whose ghc runs in ghcpw's Buck2 persistent worker.

haskell_module compiles one module per action (`ghc -c`), so Buck2 schedules, caches and rebuilds
modules one by one; haskell_link links a Main module and every module it imports. Every action's exe is
a WorkerRunInfo: with persistent workers (root//platforms:local-workers), Buck2 sends ghc's arguments to
the `ghcpw buck2` worker of toolchains//:ghcpw; without (root//platforms:local), it runs
`ghcpw ghc --ghc GHC --` with the same arguments. Both reach the same warm ghcpw server.

Each module's interface and object go to its own output directory (Buck2 gives every target its own),
named with -o and -ohi; a module finds the interfaces of those it imports through one -i per imported
module. Objects are dynamic (-dynamic): GHCs built with a dynamic ghc (Debian's, the official Linux
bindists) run Template Haskell splices on dynamic objects, and in one-shot mode GHC looks for an
imported module's object beside its interface.
"""

load("@toolchains//:ghcpw.bzl", "GhcpwToolchainInfo")

HaskellModuleInfo = provider(fields = {
    "modules": provider_field(
        dict,
        doc = "Module name -> struct(interface, object, import_dir, packages) of this module and all it imports",
    ),
})

def _package_flags(packages: list[str]) -> cmd_args:
    # Only the packages the rule names: no package environment, nothing exposed by default.
    return cmd_args("-package-env=-", "-hide-all-packages", [["-package", p] for p in ["base"] + packages])

def _run_ghc(ctx: AnalysisContext, arguments: cmd_args, category: str, identifier: str):
    toolchain = ctx.attrs._ghcpw[GhcpwToolchainInfo]
    ctx.actions.run(
        arguments,
        category = category,
        identifier = identifier,
        exe = WorkerRunInfo(
            worker = toolchain.worker,
            # Without workers, Buck2 runs this with the action's arguments appended.
            exe = toolchain.compiler.args,
        ),
    )

def _imported(deps: list[Dependency]) -> dict:
    modules = {}
    for dep in deps:
        modules.update(dep[HaskellModuleInfo].modules)
    return modules

def _haskell_module_impl(ctx: AnalysisContext) -> list[Provider]:
    path = ctx.attrs.src.short_path
    if not path.endswith(".hs"):
        fail("src must be a .hs file named after its module, under this package: " + path)
    stem = path[:-len(".hs")]
    name = stem.replace("/", ".")
    interface = ctx.actions.declare_output(stem + ".hi")
    obj = ctx.actions.declare_output(stem + ".o")
    imported = _imported(ctx.attrs.deps)
    packages = {p: None for m in imported.values() for p in m.packages}
    packages.update({p: None for p in ctx.attrs.packages})

    arguments = cmd_args(
        "-c",
        "-dynamic",
        "-fPIC",
        _package_flags(list(packages)),
        # A bare -i empties the search path (by default the working directory, the project root).
        "-i",
        [m.import_dir for m in imported.values()],
        ctx.attrs.ghcopts,
        "-o",
        obj.as_output(),
        "-ohi",
        interface.as_output(),
        ctx.attrs.src,
        # Template Haskell may run the imported modules' code: their objects are inputs too.
        hidden = [m.object for m in imported.values()],
    )
    _run_ghc(ctx, arguments, "haskell_compile", name)

    modules = dict(imported)
    modules[name] = struct(
        interface = interface,
        object = obj,
        # The directory the interface's module path starts in: D of D/A/B.hi for module A.B.
        import_dir = cmd_args(interface, parent = stem.count("/") + 1, format = "-i{}"),
        packages = list(packages),
    )
    return [
        DefaultInfo(default_outputs = [obj, interface]),
        HaskellModuleInfo(modules = modules),
    ]

_GHCPW = attrs.toolchain_dep(default = "toolchains//:ghcpw", providers = [GhcpwToolchainInfo])

haskell_module = rule(
    impl = _haskell_module_impl,
    doc = "Compiles one Haskell module, whose path under the package is its module name (A/B.hs is A.B).",
    attrs = {
        "src": attrs.source(),
        "deps": attrs.list(attrs.dep(providers = [HaskellModuleInfo]), default = [], doc = "The home modules it imports."),
        "packages": attrs.list(attrs.string(), default = [], doc = "GHC packages it imports from (base is always there)."),
        "ghcopts": attrs.list(attrs.string(), default = [], doc = "More ghc flags."),
        "_ghcpw": _GHCPW,
    },
)

def _haskell_link_impl(ctx: AnalysisContext) -> list[Provider]:
    modules = ctx.attrs.main[HaskellModuleInfo].modules
    executable = ctx.actions.declare_output(ctx.label.name)
    packages = {p: None for m in modules.values() for p in m.packages}
    arguments = cmd_args(
        "-dynamic",
        _package_flags(list(packages)),
        ctx.attrs.ghcopts,
        "-o",
        executable.as_output(),
        [m.object for m in modules.values()],
    )
    _run_ghc(ctx, arguments, "haskell_link", ctx.label.name)
    return [
        DefaultInfo(default_output = executable),
        RunInfo(args = cmd_args(executable)),
    ]

haskell_link = rule(
    impl = _haskell_link_impl,
    doc = "Links an executable from a Main module and every module it imports, transitively.",
    attrs = {
        "main": attrs.dep(providers = [HaskellModuleInfo]),
        "ghcopts": attrs.list(attrs.string(), default = [], doc = "More ghc flags for linking."),
        "_ghcpw": _GHCPW,
    },
)
