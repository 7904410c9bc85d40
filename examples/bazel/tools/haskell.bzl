"""Minimal Haskell rules whose ghc runs through ghcpw's Bazel worker.

haskell_module compiles one module per action (`ghc -c`), so Bazel schedules, caches and rebuilds
modules one by one; haskell_binary links the objects of a Main module and everything it imports.
Both run //tools:ghcpw-worker, which serves them from warm GHC processes under the worker strategy
and runs the real ghc once under any other (local, sandboxed, remote).

Settings, given with --define:
  ghc=PATH              the ghc to use (default: ghc on the action's PATH)
  ghcpw_protocol=json   speak JSON to the worker instead of protobuf (Bazel 4 and 5
                        also need --experimental_worker_allow_json_protocol)
"""

HaskellModuleInfo = provider(
    doc = "A compiled module, with what compiling or linking against it needs.",
    fields = {
        "module": "The module's name.",
        "outputs": "depset of the interfaces and objects of this module and all it imports",
        "objects": "depset of the static objects (.o) of this module and all it imports, to link",
        "import_dirs": "depset of the directories (-i) holding the interfaces of this module and its imports",
        "packages": "depset of the GHC packages this module and its imports use",
    },
)

# Debian's GHCs are dynamically linked: Template Haskell in one-shot mode runs the imported modules'
# dynamic objects, so every module is built both ways (.o/.hi for linking, .dyn_o/.dyn_hi for splices).
_OUTPUT_SUFFIXES = ["o", "hi", "dyn_o", "dyn_hi"]

def _run_ghc(ctx, mnemonic, progress_message, arguments, inputs, outputs):
    """Runs ghc through the worker: startup arguments on the command line, ghc's in a flagfile."""
    protocol = ctx.var.get("ghcpw_protocol", "proto")
    startup = ctx.actions.args()
    startup.add("--ghc", ctx.var.get("ghc", "ghc"))
    startup.add("--protocol", protocol)

    # Bazel passes the flagfile's lines to a worker as a request's arguments; run one-shot, ghcpw
    # reads the file itself the same way.
    arguments.use_param_file("@%s", use_always = True)
    arguments.set_param_file_format("multiline")
    requirements = {
        "supports-workers": "1",
        "supports-multiplex-workers": "1",
        # Honoured with --experimental_worker_cancellation: ghcpw stops the GHC doing the work.
        "supports-worker-cancellation": "1",
        # Honoured by Bazel 6 and later with --experimental_worker_multiplex_sandboxing: each request
        # names its sandbox, and ghcpw resolves the request's paths there.
        "supports-multiplex-sandboxing": "1",
    }
    if protocol == "json":
        requirements["requires-worker-protocol"] = "json"
    ctx.actions.run(
        executable = ctx.executable._worker,
        arguments = [startup, arguments],
        inputs = inputs,
        outputs = outputs,
        mnemonic = mnemonic,
        progress_message = progress_message,
        execution_requirements = requirements,
        # ghc needs PATH to find gcc and the linker.
        use_default_shell_env = True,
    )

def _package_flags(args, packages):
    # No user or environment package databases or files: only what the rule says.
    args.add_all(["-package-env=-", "-hide-all-packages"])
    args.add_all(packages, before_each = "-package")

def _haskell_module_impl(ctx):
    src = ctx.file.src
    package = ctx.label.package
    relative = src.short_path[len(package) + 1:] if package else src.short_path
    if not relative.endswith(".hs"):
        fail("src must be a .hs file under this package, named after its module: %s" % src.short_path)
    stem = relative[:-len(".hs")]
    outputs = {suffix: ctx.actions.declare_file("_ghc/%s.%s" % (stem, suffix)) for suffix in _OUTPUT_SUFFIXES}

    # Every module of this package writes below one root; ghc finds interfaces (and, for splices,
    # objects) of imported modules below the roots given with -i.
    root = outputs["o"].path[:-len(stem + ".o") - 1]
    deps = [dep[HaskellModuleInfo] for dep in ctx.attr.deps]
    import_dirs = depset([root], transitive = [dep.import_dirs for dep in deps])
    dep_outputs = depset(transitive = [dep.outputs for dep in deps])

    args = ctx.actions.args()
    args.add("-c")
    _package_flags(args, depset(["base"] + ctx.attr.packages))
    args.add_all(["-dynamic-too", "-odir", root, "-hidir", root])

    # A bare -i empties the search path (by default the working directory, here the execroot).
    args.add("-i")
    args.add_all(import_dirs, format_each = "-i%s")
    args.add_all(ctx.attr.ghcopts)
    args.add(src)
    _run_ghc(
        ctx,
        mnemonic = "HaskellCompile",
        progress_message = "Compiling %s (%s)" % (stem.replace("/", "."), ctx.label),
        arguments = args,
        inputs = depset([src], transitive = [dep_outputs]),
        outputs = outputs.values(),
    )
    return [
        DefaultInfo(files = depset([outputs["o"], outputs["hi"]])),
        HaskellModuleInfo(
            module = stem.replace("/", "."),
            outputs = depset(outputs.values(), transitive = [dep_outputs]),
            objects = depset([outputs["o"]], transitive = [dep.objects for dep in deps]),
            import_dirs = import_dirs,
            packages = depset(ctx.attr.packages, transitive = [dep.packages for dep in deps]),
        ),
    ]

_WORKER = attr.label(
    default = "//tools:ghcpw-worker",
    executable = True,
    cfg = "exec",
    allow_single_file = True,
)

haskell_module = rule(
    implementation = _haskell_module_impl,
    doc = "Compiles one Haskell module, whose path under the package is its module name (A/B.hs is A.B).",
    attrs = {
        "src": attr.label(allow_single_file = [".hs"], mandatory = True),
        "deps": attr.label_list(providers = [HaskellModuleInfo], doc = "The home modules it imports."),
        "packages": attr.string_list(doc = "GHC packages it imports from (base is always there)."),
        "ghcopts": attr.string_list(doc = "More ghc flags."),
        "_worker": _WORKER,
    },
)

def _haskell_binary_impl(ctx):
    info = ctx.attr.main[HaskellModuleInfo]
    executable = ctx.actions.declare_file(ctx.label.name)
    args = ctx.actions.args()
    _package_flags(args, depset(["base"], transitive = [info.packages]))
    args.add("-o", executable)
    args.add_all(ctx.attr.ghcopts)
    args.add_all(info.objects)
    _run_ghc(
        ctx,
        mnemonic = "HaskellLink",
        progress_message = "Linking %s" % ctx.label,
        arguments = args,
        inputs = info.objects,
        outputs = [executable],
    )
    return [DefaultInfo(executable = executable, files = depset([executable]))]

haskell_binary = rule(
    implementation = _haskell_binary_impl,
    doc = "Links an executable from a Main module and every module it imports, transitively.",
    executable = True,
    attrs = {
        "main": attr.label(providers = [HaskellModuleInfo], mandatory = True),
        "ghcopts": attr.string_list(doc = "More ghc flags for linking."),
        "_worker": _WORKER,
    },
)
