"""ghcpw as a Buck2 Haskell toolchain, both ways.

- As a compiler wrapper: `ghcpw ghc --ghc GHC --` is the `compiler` and `linker` of the prelude's
  HaskellToolchainInfo, so the prelude's haskell_binary and haskell_library run every compile through
  the ghcpw server for GHC (`ghcpw_haskell_toolchain`).
- As a persistent worker: `ghcpw buck2 --ghc GHC` is a WorkerInfo, which Buck2 starts once per build
  command and sends every action whose exe is a WorkerRunInfo naming it; the same wrapper is the
  WorkerRunInfo's exe, for execution platforms without workers (`ghcpw_toolchain`, used by the rules in
  //:haskell.bzl).

Both end in the same long-lived `ghcpw serve` for GHC, started on first use, whose GHC processes stay
warm from one build command to the next.
"""

load("@prelude//haskell:toolchain.bzl", "HaskellPlatformInfo", "HaskellToolchainInfo")

GhcpwToolchainInfo = provider(fields = {
    "compiler": provider_field(RunInfo, doc = "`ghcpw ghc --ghc GHC --`: runs one ghc command line"),
    "worker": provider_field(WorkerInfo, doc = "`ghcpw buck2 --ghc GHC`: Buck2's persistent worker"),
})

def _ghcpw_compiler_impl(ctx: AnalysisContext) -> list[Provider]:
    return [
        DefaultInfo(),
        RunInfo(args = cmd_args(ctx.attrs.ghcpw, "ghc", "--ghc", ctx.attrs.ghc, "--")),
    ]

ghcpw_compiler = rule(
    impl = _ghcpw_compiler_impl,
    doc = "ghc's drop-in through the ghcpw server: `ghcpw ghc --ghc GHC --`, then ghc's arguments.",
    attrs = {
        "ghcpw": attrs.source(doc = "The ghcpw executable (here a script running it from the checkout)."),
        "ghc": attrs.string(doc = "The ghc that ghcpw runs and serves: a name on PATH or a path."),
    },
)

def _ghcpw_worker_impl(ctx: AnalysisContext) -> list[Provider]:
    return [
        DefaultInfo(),
        # One WorkerInfo, made here once: every action naming it shares one worker process.
        WorkerInfo(
            exe = cmd_args(ctx.attrs.ghcpw, "buck2", "--ghc", ctx.attrs.ghc),
            concurrency = ctx.attrs.concurrency,
            streaming = ctx.attrs.streaming,
        ),
    ]

ghcpw_worker = rule(
    impl = _ghcpw_worker_impl,
    doc = "Buck2's persistent worker for ghc: `ghcpw buck2 --ghc GHC`, listening on $WORKER_SOCKET.",
    attrs = {
        "ghcpw": attrs.source(doc = "The ghcpw executable (here a script running it from the checkout)."),
        "ghc": attrs.string(doc = "The ghc that ghcpw runs and serves: a name on PATH or a path."),
        "concurrency": attrs.option(
            attrs.int(),
            default = None,
            doc = "Commands Buck2 sends at once (None: one at a time); the server queues what its GHC processes cannot take yet.",
        ),
        "streaming": attrs.bool(
            default = False,
            doc = "Send commands over one ExecuteStream call instead of one Execute call each.",
        ),
    },
)

def _ghcpw_toolchain_impl(ctx: AnalysisContext) -> list[Provider]:
    return [
        DefaultInfo(),
        GhcpwToolchainInfo(
            compiler = ctx.attrs.compiler[RunInfo],
            worker = ctx.attrs.worker[WorkerInfo],
        ),
    ]

ghcpw_toolchain = rule(
    impl = _ghcpw_toolchain_impl,
    is_toolchain_rule = True,
    doc = "The worker and its fallback, for the rules in //:haskell.bzl.",
    attrs = {
        "compiler": attrs.exec_dep(providers = [RunInfo]),
        "worker": attrs.exec_dep(providers = [WorkerInfo]),
    },
)

def _ghcpw_haskell_toolchain_impl(ctx: AnalysisContext) -> list[Provider]:
    compiler = ctx.attrs.compiler[RunInfo]
    return [
        DefaultInfo(),
        HaskellToolchainInfo(
            compiler = compiler,
            linker = compiler,
            packager = ctx.attrs.packager,
            haddock = ctx.attrs.haddock,
            compiler_flags = ctx.attrs.compiler_flags,
            linker_flags = ctx.attrs.linker_flags,
        ),
        HaskellPlatformInfo(name = host_info().arch),
    ]

ghcpw_haskell_toolchain = rule(
    impl = _ghcpw_haskell_toolchain_impl,
    is_toolchain_rule = True,
    doc = "The prelude's Haskell toolchain with ghcpw as its compiler and linker.",
    attrs = {
        "compiler": attrs.exec_dep(providers = [RunInfo]),
        "packager": attrs.string(default = "ghc-pkg"),
        "haddock": attrs.string(default = "haddock"),
        "compiler_flags": attrs.list(attrs.string(), default = []),
        "linker_flags": attrs.list(attrs.string(), default = []),
    },
)
