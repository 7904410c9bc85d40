{-# LANGUAGE CPP #-}
-- The phase hook matches on a GADT (TPhase, 9.4+).
{-# LANGUAGE MonoLocalBinds #-}

-- | Every difference between GHC versions that the plugin meets, as small accessors behind CPP, so the
-- other modules read as if there were one GHC. Built and tested against 9.0, 9.6 and 9.10; the 9.2, 9.4,
-- 9.8 and 9.12 branches follow those releases' API documentation (not compiled here).
--
-- What ghc's own Main does with these lives in Ghcpw.Driver; where the worker's kept state sits in each
-- GHC's session is here, and what is kept and how it is pruned lives in Ghcpw.Warm and Ghcpw.Prune.
module Ghcpw.Compat
  ( -- * Names that moved between modules
    HscEnv
  , hsc_dflags
  , hsc_mod_graph
  , handleSourceError
  , ModSummary (ms_hspp_opts)
  , ModuleGraph
  , mgModSummaries
  , mi_module
  , ExternalPackageState (..)
  , CompleteMatch
  , Module
  , UnitId
  , moduleUnitId
  , homeUsageHashes
  , interfaceModuleHash
  , bootSummary
  , summarySource
    -- * A new session
  , Installation
  , readInstallation
  , newSessionEnv
    -- * Flags, diagnostics and inputs as ghc's Main handles them
  , Stop (..)
  , parseFlags
  , withPrettyErrors
  , parseTargets
  , initSessionPlugins
  , oneShotTo
  , compileToObject
  , guessTargetFile
  , showInterface
  , dynOutputHiFile
  , wantsFinalStats
  , Terminal (..)
  , ColourTest (..)
  , colourTest
  , applyTerminal
  , flagsTmpDir
  , temporaryDirectories
  , withStageTimes
  , observeMeta
    -- * Where the kept state lives in the session
  , keepsState
  , usagesFollowLoadedInterfaces
  , addStaticPlugin
  , KeptNames
  , InterfaceStore
  , storeRef
  , resumeState
  , takeState
  , freshInterfaces
  , cachedNames
  , occNames
  , noBootModules
  , filterInstances
  , CompleteMatchTable
  , completeMatchList
  , filterCompleteMatchesM
  , completeMatchNames
  , fileFlags
  , downsweepGraph
    -- * What a request leaves running
  , liveThreads
  , LiveThreads (..)
  , interpreterProcess
  , stopInterpreter
    -- * Loaded code
  , Loader
  , sessionLoader
  , withSessionLoader
  , loaderUnits
  , unloadHomeCode
  , keepLoaderUnits
  , preloadUnitIds
  , unitDependencies
  , linkerStartFlags
    -- * Package databases
  , UnitDatabases
  , withUnitDatabases
  , KeptUnits
  , setSessionDynFlags
  , setSessionDynFlagsKeeping
  , sessionKeptUnits
  , sessionUnitDatabases
  , unitDatabasePaths
  , databaseUnits
  , wiredUnitId
  , sessionHomeUnit
  ) where

import Control.Monad (filterM, when)
import Control.Monad.IO.Class (liftIO)
import Data.IORef (IORef, newIORef)
import Data.Maybe (fromMaybe, isJust)
import GHC (Ghc, GhcMonad, ModuleName, Target, guessTarget)
import qualified GHC
import GHC.Core.InstEnv (ClsInst, InstEnv)
import GHC.Driver.Phases (Phase)
import qualified GHC.Driver.Phases as Phases
import GHC.Driver.Pipeline (compileFile, oneShot)
import GHC.Driver.Plugins (Plugin)
import GHC.Driver.Session
import GHC.Iface.Load (showIface)
import qualified GHC.Driver.Main as Main
import GHC.SysTools (initSysTools)
import GHC.Types.Name (Name)
import GHC.Types.Name.Occurrence (OccEnv)
import GHC.Types.SrcLoc (Located)
import GHC.Unit.Module.Env (ModuleEnv)
import GHC.Fingerprint (Fingerprint)
import qualified Data.Map as Map

#if MIN_VERSION_ghc(9,2,0)
import GHC.Types.SourceError (handleSourceError)
import GHC.Unit.External (ExternalPackageState (..), PackageCompleteMatches)
import GHC.Types.CompleteMatch (CompleteMatch, cmConLikes)
import GHC.Types.Unique.DSet (uniqDSetToList)
import GHC.Unit.Module.Graph (ModuleGraph, mgModSummaries)
import GHC.Unit.Module.ModIface (ModIface, ModIfaceBackend (mi_mod_hash), ModIface_ (mi_final_exts, mi_usages), mi_module)
import GHC.Unit.Module.ModSummary (ModSummary (ms_hspp_opts))
import GHC.Unit.Types (GenUnit (RealUnit), Definite (..), Module, UnitId, moduleUnit, toUnitId)
import GHC.Utils.Logger (getLogger)
import GHC.Unit.Module.Deps (Usage (..))
import GHC.Types.SourceFile (isHsBootOrSig)
#else
import GHC.Driver.Types (ModIface, ModIfaceBackend (mi_mod_hash), ModIface_ (mi_final_exts, mi_usages), Usage (..))
import GHC.Driver.Phases (isHsBootOrSig)
import Data.Either (rights)
import Data.IORef (readIORef)
import GHC.Core.InstEnv (emptyInstEnv, extendInstEnvList, instEnvElts)
import GHC.Driver.Main (newHscEnv)
import GHC.Driver.Make (downsweep)
import GHC.Driver.Types
  ( CompleteMatch (..)
  , ExternalPackageState (..)
  , HscEnv (..)
  , ModSummary (ms_hspp_opts)
  , ModuleGraph
  , PackageCompleteMatchMap
  , handleFlagWarnings
  , handleSourceError
  , hsc_dflags
  , mgModSummaries
  , mi_module
  , mkModuleGraph
  )
import GHC.Driver.Plugins (PluginWithArgs (..), StaticPlugin (..))
import GHC.Iface.Load (initExternalPackageState)
import GHC.Parser.Header (getOptionsFromFile)
import GHC.Types.Name.Cache (NameCache (nsNames))
import GHC.Types.Name.Occurrence (occEnvElts)
import GHC.Types.Unique.FM (eltsUFM, emptyUFM, listToUFM_Directly, nonDetUFMToList)
import GHC.Unit.Module (Module, UnitId, moduleUnit, toUnitId)
import GHC.Unit.Module.Env (ModuleNameEnv)
import GHC.Unit.State (UnitDatabase (..), UnitState (wireMap), initUnits)
import GHC.Unit.Info (unitId)
import GHC.Unit.Types (ModuleNameWithIsBoot)
import qualified Data.Set as Set
import GHC.Driver.Types (InteractiveContext (ic_dflags))
import GHC.Driver.Ways (Way)
import GHC.Driver.Monad (modifySession)
#endif

#if MIN_VERSION_ghc(9,2,0) && !MIN_VERSION_ghc(9,4,0)
import GHC.Core.InstEnv (emptyInstEnv, extendInstEnvList, instEnvElts)
import Data.IORef (readIORef)
import GHC.Driver.Errors (handleFlagWarnings)
import GHC.Types.Name.Cache (NameCache (nsNames))
import GHC.Types.Name.Occurrence (occEnvElts)
import GHC.Types.Unique.FM (emptyUFM)
import GHC.Unit.Env (UnitEnv (ue_units))
import GHC.Unit.Module.Env (ModuleNameEnv)
import GHC.Unit.State (UnitDatabase (..), listUnitInfo, unwireUnit)
import GHC.Unit.Info (unitId)
import GHC.Unit.Types (ModuleNameWithIsBoot)
import GHC.Driver.Env (HscEnv (..))
#endif

#if MIN_VERSION_ghc(9,4,0)
import Control.Concurrent.MVar (readMVar)
import Data.IORef (atomicModifyIORef', writeIORef)
import GHC.Core.InstEnv (filterInstEnv)
import GHC.Driver.Config.Diagnostic (initDiagOpts)
import GHC.Driver.Config.Logger (initLogFlags)
import GHC.Driver.Env (HscEnv (..), hsc_NC, hsc_logger, hsc_units)
import GHC.Driver.Make (downsweep)
import GHC.Driver.Monad (modifySession)
import GHC.Driver.Pipeline.Execute (getFileArgs)
import GHC.Types.Name.Cache (NameCache (nsNames))
import GHC.Unit.Env (UnitEnv (ue_eps), ue_setUnitDbs, ue_unit_dbs)
import GHC.Unit.External (ExternalUnitCache (..), initExternalUnitCache)
import GHC.Unit.Info (unitId)
import GHC.Unit.Module.Env (InstalledModuleEnv, emptyInstalledModuleEnv)
import GHC.Unit.Module.Graph (mkModuleGraph)
import GHC.Unit.State (UnitDatabase (..), listUnitInfo, unwireUnit)
import GHC.Unit.Types (ModuleNameWithIsBoot)
import GHC.Utils.Logger (Logger, setLogFlags)
import System.IO.Unsafe (unsafePerformIO)
#endif

#if MIN_VERSION_ghc(9,8,0)
import GHC.Driver.Config.Diagnostic (initPrintConfig)
import GHC.Driver.Errors (printOrThrowDiagnostics)
import GHC.Driver.Errors.Types (DriverMessage, GhcMessage (GhcDriverMessage))
import GHC.Types.Error (Messages)
#elif MIN_VERSION_ghc(9,6,0)
import GHC.Driver.CmdLine (Warn)
import GHC.Driver.Config.Diagnostic (initPrintConfig)
import GHC.Driver.Errors (handleFlagWarnings)
#elif MIN_VERSION_ghc(9,4,0)
import GHC.Driver.CmdLine (Warn)
import GHC.Driver.Errors (handleFlagWarnings)
#endif

#if MIN_VERSION_ghc(9,6,0) && !MIN_VERSION_ghc(9,12,0)
import Unsafe.Coerce (unsafeCoerce)
#endif

#if MIN_VERSION_ghc(9,4,0)
import GHC.Utils.TmpFs (TempDir (..))
#endif

#if MIN_VERSION_ghc(9,6,0)
import GHC.Runtime.Loader (initializeSessionPlugins)
import GHC.Types.Name.Occurrence (nonDetOccEnvElts)
#elif MIN_VERSION_ghc(9,4,0)
import GHC.Types.Name.Occurrence (occEnvElts)
#endif

#if MIN_VERSION_ghc(9,2,0) && !MIN_VERSION_ghc(9,12,0)
import GHC.Core.ConLike (conLikeName)
#endif

#if !MIN_VERSION_ghc(9,4,0)
import Ghcpw.Targets (partitionTargets)
#endif

#if MIN_VERSION_ghc(9,4,0)
import GHC.Linker.Loader (unload)
import GHC.Linker.Types (LoadedPkgInfo (..), Loader (..), LoaderState (..))
import GHC.Types.Unique.DFM (eltsUDFM, filterUDFM)
import GHC.Unit.State (UnitState (preloadUnits), lookupUnitId)
import GHC.Unit.Info (unitDepends)
#elif !MIN_VERSION_ghc(9,2,0)
import GHC.Runtime.Linker (unload)
import GHC.Runtime.Linker.Types (DynLinker (..), PersistentLinkerState (..))
import GHC.Unit.State (UnitState (preloadUnits), lookupUnitId)
import GHC.Unit.Info (unitDepends)
#endif
#if !MIN_VERSION_ghc(9,4,0)
import System.Directory (getTemporaryDirectory)
import System.FilePath (normalise)
#endif
#if !MIN_VERSION_ghc(9,6,0)
import GHC.SysTools (lazyInitLlvmConfig)
#endif

import GHC.Unit.Module.Location (ModLocation (ml_hs_file))

import Ghcpw.Stages (Stage (..), inStage)
import GHC.Driver.Hooks (Hooks, runMetaHook)
import GHC.Tc.Gen.Splice (defaultRunMeta)
import GHC.Tc.Types (TcGblEnv (tcg_mod))
import GHC.Tc.Utils.Monad (getGblEnv)
#if MIN_VERSION_ghc(9,4,0)
import GHC.Driver.Hooks (Hooks (runPhaseHook))
import GHC.Driver.Pipeline.Execute (runPhase)
import GHC.Driver.Pipeline.Phases (PhaseHook (..), TPhase (..))
#elif !MIN_VERSION_ghc(9,2,0)
import GHC.Driver.Hooks (Hooks (runPhaseHook))
import GHC.Driver.Phases (Phase (..))
import GHC.Driver.Pipeline (runPhase)
import GHC.Driver.Pipeline.Monad (CompPipeline (..), PhasePlus (..))
#endif
import Control.Concurrent (ThreadId)
import qualified Control.Concurrent.MVar as MVar
import System.Process (ProcessHandle)
#if MIN_VERSION_ghc(9,10,0)
import GHC.Runtime.Interpreter (stopInterp, withExtInterpStatus)
import GHC.Runtime.Interpreter.Types
  (ExtInterpInstance (instProcess), Interp (..), InterpInstance (..), InterpProcess (interpHandle), InterpStatus (..))
#elif MIN_VERSION_ghc(9,2,0)
import GHC.Runtime.Interpreter (stopInterp)
import GHC.Runtime.Interpreter.Types (IServ (..), IServInstance (iservProcess), IServState (..), Interp (..), InterpInstance (..))
#else
import GHC.Runtime.Interpreter (stopInterp)
import GHC.Runtime.Interpreter.Types (IServ (..), IServInstance (iservProcess), IServState (..), Interp (..))
#endif
#if MIN_VERSION_ghc(9,6,0)
import Data.List (isPrefixOf)
import GHC.Conc.Sync (ThreadStatus (..), listThreads, threadLabel, threadStatus)
#else
import Foreign.C.Types (CUInt (..))
import Foreign.Ptr (Ptr)
import Foreign.Storable (peek)
import GHC.Conc (getNumCapabilities)
#endif

-- | What every new GHC session reads from the installation (its settings file, platform constants, LLVM
-- configuration), read once per worker. Each session's flags start from a copy of it, so what a request's
-- flags change (-pgm*, -opt*) stays with that request; -B, which names another installation, runs the
-- real ghc.
#if MIN_VERSION_ghc(9,6,0)
data Installation = Installation FilePath Settings
#else
data Installation = Installation Settings LlvmConfig
#endif

-- | Reads the installation in GHC's libdir, as GHC's initGhcMonad does.
readInstallation :: FilePath -> IO Installation
#if MIN_VERSION_ghc(9,6,0)
readInstallation libdir = Installation libdir <$> initSysTools libdir
#else
readInstallation libdir = Installation <$> initSysTools libdir <*> lazyInitLlvmConfig libdir
#endif

-- | A new session's environment, as GHC's initGhcMonad makes it, from the installation read once. (Its
-- check of the linker on ARM depends on the installation alone: it passed when the worker started.)
newSessionEnv :: Installation -> IO HscEnv
#if MIN_VERSION_ghc(9,6,0)
newSessionEnv (Installation libdir kept) = do
  dflags <- initDynFlags (defaultDynFlags kept)
  setUnsafeGlobalDynFlags dflags
  Main.newHscEnv libdir dflags
#else
newSessionEnv (Installation kept llvm) = do
  -- Up to 9.2 the settings also hold the temporary directory, read from the environment (TMPDIR): the
  -- request's, as a fresh ghc would read it.
  tmp <- normalise <$> getTemporaryDirectory
  let files = (sFileSettings kept) {fileSettings_tmpDir = tmp}
  dflags <- initDynFlags (defaultDynFlags kept {sFileSettings = files} llvm)
  setUnsafeGlobalDynFlags dflags
  Main.newHscEnv dflags
#endif

-- | Where a one-shot compile stops: -c (object, no link), -E (after preprocessing), -S (assembly).
data Stop = StopAfterLink | StopBeforeHsc | StopBeforeAs

-- | What the client's terminal allows: Unicode quotes and ANSI colours (and, where GHC has them, error
-- index links) in diagnostics.
data Terminal = Terminal {termUnicode :: Bool, termColour :: Bool}

-- | A module's unit as an id.
moduleUnitId :: Module -> UnitId
moduleUnitId = toUnitId . moduleUnit

-- | The home modules an interface records as used, each with the module hash it was compiled against
-- (the record moved modules; 9.4 added the unit, left out here as a target has one home unit).
homeUsageHashes :: ModIface -> [(ModuleName, Fingerprint)]
homeUsageHashes iface = [(usg_mod_name u, usg_mod_hash u) | u@UsageHomeModule {} <- mi_usages iface]

-- | An interface's module hash, what the modules using it record.
interfaceModuleHash :: ModIface -> Fingerprint
interfaceModuleHash = mi_mod_hash . mi_final_exts

-- | Whether a summary is of an hs-boot file or a signature (the predicate moved modules).
bootSummary :: ModSummary -> Bool
bootSummary = isHsBootOrSig . GHC.ms_hsc_src

-- | The source file a summary was read from, as GHC was given it (a field of its location).
summarySource :: ModSummary -> Maybe FilePath
summarySource = ml_hs_file . GHC.ms_location

-- * Flags, diagnostics and inputs

-- | ghc's Main hands the DynFlags errors to GHC's pretty printer and prints flag warnings through the
-- logger; since 9.2 there is a Logger, and since 9.4 it carries its own flags (LogFlags) that Main derives
-- from the DynFlags at hand before the session has them.
-- 'parseFlags' parses the dynamic flags; the returned action prints the flag warnings as ghc does (it may
-- throw a SourceError under -Werror). 'withPrettyErrors' is GHC.prettyPrintGhcErrors for those flags.
parseFlags :: DynFlags -> [Located String] -> Ghc (DynFlags, [Located String], Ghc ())
withPrettyErrors :: DynFlags -> Ghc a -> Ghc a
#if MIN_VERSION_ghc(9,4,0)
parseFlags dflags args = do
  logger <- loggerFor dflags
  (dflags', leftover, warns) <- GHC.parseDynamicFlags logger dflags args
  pure (dflags', leftover, loggerFor dflags' >>= \l -> liftIO (printFlagWarnings l dflags' warns))

withPrettyErrors dflags action = loggerFor dflags >>= \logger -> GHC.prettyPrintGhcErrors logger action

-- | The session's logger with log flags from the given DynFlags, as Main's logger2 and logger4.
loggerFor :: DynFlags -> Ghc Logger
loggerFor dflags = (`setLogFlags` initLogFlags dflags) <$> getLogger
#elif MIN_VERSION_ghc(9,2,0)
parseFlags dflags args = do
  logger <- getLogger
  (dflags', leftover, warns) <- GHC.parseDynamicFlags logger dflags args
  pure (dflags', leftover, liftIO (handleFlagWarnings logger dflags' warns))

withPrettyErrors = GHC.prettyPrintGhcErrors
#else
parseFlags dflags args = do
  (dflags', leftover, warns) <- GHC.parseDynamicFlags dflags args
  pure (dflags', leftover, liftIO (handleFlagWarnings dflags' warns))

withPrettyErrors = GHC.prettyPrintGhcErrors
#endif

-- | Flag warnings: 9.4 takes diagnostic options, 9.6 also the message printing options; since 9.8 the
-- warnings are DriverMessages printed like any other diagnostics.
#if MIN_VERSION_ghc(9,8,0)
printFlagWarnings :: Logger -> DynFlags -> Messages DriverMessage -> IO ()
printFlagWarnings logger dflags warns =
  printOrThrowDiagnostics logger (initPrintConfig dflags) (initDiagOpts dflags) (GhcDriverMessage <$> warns)
#elif MIN_VERSION_ghc(9,6,0)
printFlagWarnings :: Logger -> DynFlags -> [Warn] -> IO ()
printFlagWarnings logger dflags = handleFlagWarnings logger (initPrintConfig dflags) (initDiagOpts dflags)
#elif MIN_VERSION_ghc(9,4,0)
printFlagWarnings :: Logger -> DynFlags -> [Warn] -> IO ()
printFlagWarnings logger dflags = handleFlagWarnings logger (initDiagOpts dflags)
#endif

-- | Splits the leftover arguments into sources (with their -x phase) and linker inputs, and adds the
-- latter to the flags' ldInputs. Since 9.4 this is GHC.parseTargetFiles; before, ghc's Main did it itself
-- (see Ghcpw.Targets).
parseTargets :: DynFlags -> [String] -> (DynFlags, [(String, Maybe Phase)], [String])
#if MIN_VERSION_ghc(9,4,0)
parseTargets = GHC.parseTargetFiles
#else
parseTargets dflags args = (dflags {ldInputs = map (FileOption "") objs ++ ldInputs dflags}, srcs, objs)
  where
    (srcs, objs) = partitionTargets args
#endif

-- | Since 9.6 plugins given with -fplugin belong to the session: ghc's Main loads them (running their
-- driverPlugin, which may change the session) right after seeding the unique supply, so the HscEnv of the
-- rest of the invocation has them. Before, only each compile loaded them.
initSessionPlugins :: Ghc ()
#if MIN_VERSION_ghc(9,6,0)
initSessionPlugins = initializeSessionPlugins
#else
initSessionPlugins = pure ()
#endif

-- | ghc's one-shot mode. Before 9.4 the pipeline's stop point was a Phase (StopLn for -c); since 9.4 it is
-- a StopPhase, and compileFile may return no object (e.g. with -fno-code).
oneShotTo :: HscEnv -> Stop -> [(String, Maybe Phase)] -> IO ()
oneShotTo hscEnv stop = oneShot hscEnv (stopPoint stop)

compileToObject :: HscEnv -> (FilePath, Maybe Phase) -> IO (Maybe FilePath)
#if MIN_VERSION_ghc(9,4,0)
stopPoint :: Stop -> Phases.StopPhase
stopPoint StopAfterLink = Phases.NoStop
stopPoint StopBeforeHsc = Phases.StopPreprocess
stopPoint StopBeforeAs = Phases.StopAs

compileToObject hscEnv = compileFile hscEnv Phases.NoStop
#else
stopPoint :: Stop -> Phase
stopPoint StopAfterLink = Phases.StopLn
stopPoint StopBeforeHsc = Phases.anyHsc
stopPoint StopBeforeAs = Phases.As False

compileToObject hscEnv src = Just <$> compileFile hscEnv Phases.StopLn src
#endif

-- | Since 9.4 (several home units) a target names its unit; ghc's Main passes Nothing, the active unit.
guessTargetFile :: GhcMonad m => String -> Maybe Phase -> m Target
#if MIN_VERSION_ghc(9,4,0)
guessTargetFile file = guessTarget file Nothing
#else
guessTargetFile = guessTarget
#endif

-- | --show-iface: 9.0's Main made a new HscEnv from the session's flags; 9.2 passes the session; since
-- 9.4 showIface takes the logger, flags, unit state and name cache.
showInterface :: HscEnv -> FilePath -> IO ()
#if MIN_VERSION_ghc(9,4,0)
showInterface hscEnv = showIface (hsc_logger hscEnv) (hsc_dflags hscEnv) (hsc_units hscEnv) (hsc_NC hscEnv)
#elif MIN_VERSION_ghc(9,2,0)
showInterface = showIface
#else
showInterface hscEnv file = newHscEnv (hsc_dflags hscEnv) >>= \fresh -> showIface fresh file
#endif

-- | -dynohi (since 9.4), which ghc's Main allows only with a single source, like -ohi.
dynOutputHiFile :: DynFlags -> Maybe FilePath
#if MIN_VERSION_ghc(9,4,0)
dynOutputHiFile = dynOutputHi
#else
dynOutputHiFile _ = Nothing
#endif

-- | Whether ghc's Main would print final statistics (-dfaststring-stats; since 9.4 a dump flag, joined
-- by -ddump-faststrings).
wantsFinalStats :: DynFlags -> Bool
#if MIN_VERSION_ghc(9,4,0)
wantsFinalStats dflags = dopt Opt_D_faststring_stats dflags || dopt Opt_D_dump_faststrings dflags
#else
wantsFinalStats = gopt Opt_D_faststring_stats
#endif

-- | How a new ghc decides at start-up whether its stderr takes ANSI colours. Up to 9.4 the ghc library
-- asks terminfo (where it was built with it) for the colours of $TERM's entry; since 9.6 it no longer
-- depends on terminfo and takes any terminal whose TERM is not "dumb".
data ColourTest = ColourFromTerminfo | ColourUnlessDumbTerm

colourTest :: ColourTest
#if MIN_VERSION_ghc(9,6,0)
colourTest = ColourUnlessDumbTerm
#else
colourTest = ColourFromTerminfo
#endif

-- | What a new ghc decides from its stderr at start-up (once per process, so the worker must override
-- it per request): colours, and since 9.10 error index links, which GHC enables with colours.
applyTerminal :: Terminal -> DynFlags -> DynFlags
#if MIN_VERSION_ghc(9,10,0)
applyTerminal t dflags =
  dflags {useUnicode = termUnicode t, canUseColor = termColour t, canUseErrorLinks = termColour t}
#else
applyTerminal t dflags = dflags {useUnicode = termUnicode t, canUseColor = termColour t}
#endif

-- | The temporary directory the flags name: -tmpdir, else what the session found in TMPDIR (since 9.4
-- as a TempDir).
flagsTmpDir :: DynFlags -> FilePath
#if MIN_VERSION_ghc(9,4,0)
flagsTmpDir dflags = let TempDir dir = tmpDir dflags in dir
#else
flagsTmpDir = tmpDir
#endif

-- | GHC's map from the temporary directory the flags name to the directory of its own in which the
-- session's temporary files go (made on first use unless present, removed with the session's files):
-- 9.0 keeps it in DynFlags, since 9.4 the session's TmpFs holds it. Where this plugin does not know
-- where it is (9.2, 9.4, 9.12 and later), Nothing.
temporaryDirectories :: HscEnv -> Maybe (IORef (Map.Map FilePath FilePath))
#if MIN_VERSION_ghc(9,6,0) && !MIN_VERSION_ghc(9,12,0)
temporaryDirectories hscEnv = case unsafeCoerce (hsc_tmpfs hscEnv) of TmpFsFirstField dirs -> Just dirs

-- | The first field of GHC's TmpFs, whose constructor GHC does not export: in 9.6 to 9.10 TmpFs is one
-- constructor with four lazy fields, tmp_dirs_to_clean first. Reading the first field through a
-- one-field constructor is sound for any such layout.
data TmpFsFirstField = TmpFsFirstField (IORef (Map.Map FilePath FilePath))
#elif MIN_VERSION_ghc(9,2,0)
temporaryDirectories _ = Nothing
#else
temporaryDirectories = Just . dirsToClean . hsc_dflags
#endif

-- | The session with GHC's phase hook timing each pipeline phase as a stage (see Ghcpw.Stages); the hook
-- runs GHC's own phase unchanged. Since 9.4 the pipeline has a phase per step of the compiler proper (type
-- checking; desugaring and Core-to-Core; code generation); up to 9.2 one phase runs everything from
-- parsing to the interface, so there 'Frontend' covers desugaring and simplifying too and
-- 'DesugarSimplify' stays empty. 9.2 (untested here) is not timed beyond the driver's own steps.
withStageTimes :: HscEnv -> HscEnv
#if MIN_VERSION_ghc(9,4,0)
withStageTimes hscEnv =
  hscEnv {hsc_hooks = (hsc_hooks hscEnv) {runPhaseHook = Just (PhaseHook (\p -> inStage (phaseStage p) (runPhase p)))}}

phaseStage :: TPhase a -> Stage
phaseStage p = case p of
  T_Unlit {} -> Preprocess
  T_FileArgs {} -> Preprocess
  T_Cpp {} -> Preprocess
  T_HsPp {} -> Preprocess
  T_HscRecomp {} -> Frontend
  T_Hsc {} -> Frontend
  T_HscPostTc {} -> DesugarSimplify
  T_HscBackend {} -> Codegen
  T_CmmCpp {} -> Codegen
  T_Cmm {} -> Codegen
  T_LlvmOpt {} -> Codegen
  T_LlvmLlc {} -> Codegen
  T_LlvmMangle {} -> Codegen
  T_Cc {} -> CCompile
  T_As {} -> Assemble
  _ -> Driver
#elif MIN_VERSION_ghc(9,2,0)
withStageTimes = id
#else
withStageTimes hscEnv = hscEnv {hsc_dflags = dflags {hooks = (hooks dflags) {runPhaseHook = Just timed}}}
  where
    dflags = hsc_dflags hscEnv
    timed phase input flags = P (\env st -> inStage (phaseStage phase) (unP (runPhase phase input flags) env st))

phaseStage :: PhasePlus -> Stage
phaseStage (HscOut {}) = Codegen
phaseStage (RealPhase p) = case p of
  Unlit _ -> Preprocess
  Cpp _ -> Preprocess
  HsPp _ -> Preprocess
  Hsc _ -> Frontend
  As _ -> Assemble
  Cc -> CCompile
  Ccxx -> CCompile
  Cobjc -> CCompile
  Cobjcxx -> CCompile
  HCc -> CCompile
  LlvmOpt -> Codegen
  LlvmLlc -> Codegen
  LlvmMangle -> Codegen
  CmmCpp -> Codegen
  Cmm -> Codegen
  _ -> Driver
#endif

-- | The session with GHC's meta hook wrapped so that `record` hears of the module being type-checked each
-- time GHC is about to run code of the user's while compiling it: every Template Haskell splice (typed or
-- not, in expressions, patterns, types or declarations), every quasi-quote (the renamer turns one into a
-- splice) and every annotation goes through runMeta, which calls this hook. GHC's own runner (or a hook
-- already set) then runs the code unchanged. 9.0 keeps hooks in DynFlags, later GHCs in the HscEnv.
observeMeta :: (Module -> IO ()) -> HscEnv -> HscEnv
#if MIN_VERSION_ghc(9,2,0)
observeMeta record hscEnv = hscEnv {hsc_hooks = observeMetaHook record (hsc_hooks hscEnv)}
#else
observeMeta record hscEnv = hscEnv {hsc_dflags = dflags {hooks = observeMetaHook record (hooks dflags)}}
  where
    dflags = hsc_dflags hscEnv
#endif

observeMetaHook :: (Module -> IO ()) -> Hooks -> Hooks
observeMetaHook record h = h {runMetaHook = Just (observed (fromMaybe defaultRunMeta (runMetaHook h)))}
  where
    observed run request expr = (getGblEnv >>= liftIO . record . tcg_mod) >> run request expr

-- * Where the kept state lives
--
-- The name cache and the EPS variable ("interface store"): 9.0 and 9.2 keep both as IORefs in HscEnv;
-- since 9.4 the name cache is a value (its names in an MVar) and the EPS variable is the
-- ExternalUnitCache of the session's UnitEnv. 9.2 keeps nothing between requests ('keepsState'): its
-- layout is written from the documentation only, and a worker that keeps nothing cannot go wrong.

-- | Whether workers of this GHC keep names and interfaces between requests.
keepsState :: Bool
#if MIN_VERSION_ghc(9,2,0) && !MIN_VERSION_ghc(9,4,0)
keepsState = False
#else
keepsState = True
#endif

-- | Whether the package modules an interface records as used depend on which interfaces happen to be
-- loaded. Up to 9.4, GHC.HsToCore.Usage.mk_mod_usage_info records a used or imported module only when
-- 'lookupIfaceByModule' finds its interface in the EPS (or home package table) already; since 9.6 its
-- mkUsageM loads each such interface first (GHC #22217), so the EPS's history no longer shows. Whether
-- 9.4's later releases took that change is not known here, so 9.4 counts as before.
usagesFollowLoadedInterfaces :: Bool
#if MIN_VERSION_ghc(9,6,0)
usagesFollowLoadedInterfaces = False
#else
usagesFollowLoadedInterfaces = True
#endif

-- | How a plugin of the worker's own joins those GHC runs for each module, where this plugin knows how
-- and needs to (9.0 keeps them in DynFlags; see Ghcpw.Usages).
addStaticPlugin :: Maybe (Plugin -> HscEnv -> HscEnv)
#if MIN_VERSION_ghc(9,2,0)
addStaticPlugin = Nothing
#else
addStaticPlugin = Just (\plugin hscEnv ->
  let dflags = hsc_dflags hscEnv
   in hscEnv {hsc_dflags = dflags {staticPlugins = StaticPlugin (PluginWithArgs plugin []) : staticPlugins dflags}})
#endif

#if MIN_VERSION_ghc(9,4,0)
type KeptNames = NameCache

-- | Where a set of interfaces lives across requests: the EPS variable itself, not a copy of its value.
-- Declarations read from interfaces are type-checked lazily, and each deferred check loads further
-- interfaces into the EPS variable of the session that read the declaration; with one variable per
-- interface key, what those checks load lands where later requests look for it.
type InterfaceStore = ExternalUnitCache

storeRef :: InterfaceStore -> IORef ExternalPackageState
storeRef (ExternalUnitCache store) = store

resumeState :: Maybe KeptNames -> Maybe InterfaceStore -> HscEnv -> HscEnv
resumeState names store hscEnv =
  hscEnv
    { hsc_NC = fromMaybe (hsc_NC hscEnv) names
    , hsc_unit_env = unitEnv {ue_eps = fromMaybe (ue_eps unitEnv) store}
    }
  where
    unitEnv = hsc_unit_env hscEnv

takeState :: HscEnv -> (KeptNames, InterfaceStore)
takeState hscEnv = (hsc_NC hscEnv, ue_eps (hsc_unit_env hscEnv))

-- | The session with an EPS of its own, empty.
freshInterfaces :: HscEnv -> IO HscEnv
freshInterfaces hscEnv = initExternalUnitCache >>= \cache -> pure (resumeState Nothing (Just cache) hscEnv)

cachedNames :: KeptNames -> IO (ModuleEnv (OccEnv Name))
cachedNames = readMVar . nsNames

noBootModules :: InstalledModuleEnv ModuleNameWithIsBoot
noBootModules = emptyInstalledModuleEnv

filterInstances :: (ClsInst -> Bool) -> InstEnv -> InstEnv
filterInstances = filterInstEnv

-- | The session's flags with a source's OPTIONS_GHC pragmas applied, as GHC's pipeline applies them.
fileFlags :: HscEnv -> FilePath -> IO DynFlags
fileFlags hscEnv file = (\(dflags, _, _) -> dflags) <$> getFileArgs hscEnv file

-- | GHC's downsweep of the session's targets; its errors are left for load to report.
downsweepGraph :: HscEnv -> IO ModuleGraph
downsweepGraph hscEnv = mkModuleGraph . snd <$> downsweep hscEnv [] [] False
#else
type KeptNames = IORef NameCache
type InterfaceStore = IORef ExternalPackageState

storeRef :: InterfaceStore -> IORef ExternalPackageState
storeRef = id

resumeState :: Maybe KeptNames -> Maybe InterfaceStore -> HscEnv -> HscEnv
resumeState names store hscEnv =
  hscEnv {hsc_NC = fromMaybe (hsc_NC hscEnv) names, hsc_EPS = fromMaybe (hsc_EPS hscEnv) store}

takeState :: HscEnv -> (KeptNames, InterfaceStore)
takeState hscEnv = (hsc_NC hscEnv, hsc_EPS hscEnv)

cachedNames :: KeptNames -> IO (ModuleEnv (OccEnv Name))
cachedNames = fmap nsNames . readIORef

noBootModules :: ModuleNameEnv ModuleNameWithIsBoot
noBootModules = emptyUFM

-- | Without filterInstEnv (9.4), by rebuilding the environment from the kept instances.
filterInstances :: (ClsInst -> Bool) -> InstEnv -> InstEnv
filterInstances keep = extendInstEnvList emptyInstEnv . filter keep . instEnvElts
#endif

#if MIN_VERSION_ghc(9,2,0) && !MIN_VERSION_ghc(9,4,0)
-- | A 9.2 session never holds kept interfaces ('keepsState'), so its own EPS is already fresh.
freshInterfaces :: HscEnv -> IO HscEnv
freshInterfaces = pure

-- | Only consulted to choose between kept and fresh interfaces, which 9.2 never needs to.
fileFlags :: HscEnv -> FilePath -> IO DynFlags
fileFlags hscEnv _ = pure (hsc_dflags hscEnv)

-- | Only consulted to choose between kept and fresh interfaces, which 9.2 never needs to.
downsweepGraph :: HscEnv -> IO ModuleGraph
downsweepGraph = pure . hsc_mod_graph
#elif !MIN_VERSION_ghc(9,2,0)
freshInterfaces :: HscEnv -> IO HscEnv
freshInterfaces hscEnv = newIORef (initExternalPackageState (hsc_dflags hscEnv)) >>= \ref -> pure hscEnv {hsc_EPS = ref}

fileFlags :: HscEnv -> FilePath -> IO DynFlags
fileFlags hscEnv file = do
  let dflags = hsc_dflags hscEnv
  opts <- getOptionsFromFile dflags file
  (\(dflags', _, _) -> dflags') <$> parseDynamicFilePragma dflags opts

downsweepGraph :: HscEnv -> IO ModuleGraph
downsweepGraph hscEnv = mkModuleGraph . rights <$> downsweep hscEnv [] [] False
#endif

-- | The names in an OccEnv (9.6 renamed the listing, which was never in a stable order).
occNames :: OccEnv Name -> [Name]
#if MIN_VERSION_ghc(9,6,0)
occNames = nonDetOccEnvElts
#else
occNames = occEnvElts
#endif

-- | The EPS table of COMPLETE pragmas: 9.0 files each pragma under its result type constructor; since
-- 9.2 it is a list of pragmas that hold their constructors (type-checked lazily since 9.4).
completeMatchList :: CompleteMatchTable -> [CompleteMatch]
filterCompleteMatchesM :: (CompleteMatch -> IO Bool) -> CompleteMatchTable -> IO CompleteMatchTable

-- | The names that tie a COMPLETE pragma to modules: 9.0 its type constructor, since 9.2 its
-- constructors and pattern synonyms (held as names again since 9.12).
completeMatchNames :: CompleteMatch -> [Name]
#if MIN_VERSION_ghc(9,2,0)
type CompleteMatchTable = PackageCompleteMatches

completeMatchList = id
filterCompleteMatchesM = filterM
#else
type CompleteMatchTable = PackageCompleteMatchMap

completeMatchList = concat . eltsUFM
filterCompleteMatchesM keep =
  fmap listToUFM_Directly . mapM (\(u, ms) -> (,) u <$> filterM keep ms) . nonDetUFMToList
#endif
#if MIN_VERSION_ghc(9,12,0)
completeMatchNames = uniqDSetToList . cmConLikes
#elif MIN_VERSION_ghc(9,2,0)
completeMatchNames = map conLikeName . uniqDSetToList . cmConLikes
#else
completeMatchNames m = [completeMatchTyCon m]
#endif

-- * Loaded code
--
-- The linker's state (GHC's "loader"): which packages it has loaded and which home code (objects, byte
-- code, the temporary libraries it linked them into). 9.0 keeps it in HscEnv next to the interpreter; since
-- 9.2 the interpreter holds it. With -fexternal-interpreter it describes what the interpreter process has
-- loaded, which ends with the request, so only the internal interpreter's counts ('sessionLoader'). 9.2
-- keeps no code ('keepsState').

-- | The linker state of the session's internal interpreter; Nothing with an external one.
sessionLoader :: HscEnv -> Maybe Loader

-- | The session with the given linker state for its internal interpreter.
withSessionLoader :: Loader -> HscEnv -> HscEnv

-- | The units the linker has loaded, in the order it loaded them; Nothing if it has not started.
loaderUnits :: Loader -> IO (Maybe [UnitId])

-- | Forgets all home code the started linker has loaded, as GHC's own unload with nothing to keep
-- (quietly: at -v3 GHC would report it), and the temporary libraries it linked that code into: they go
-- with the request's temporary files, and GHC links every later library against those it remembers.
unloadHomeCode :: HscEnv -> Loader -> IO ()

-- | Keeps only the loaded units that satisfy the test (in their order) in a started linker.
keepLoaderUnits :: (UnitId -> Bool) -> Loader -> IO ()

-- | The units a starting linker loads first (Note [preload packages] in GHC), in its order.
preloadUnitIds :: HscEnv -> [UnitId]

-- | A unit's dependencies in the session's unit state; Nothing if the unit state does not have it.
unitDependencies :: HscEnv -> UnitId -> Maybe [UnitId]

-- | The flags a starting linker reads besides the preloaded units: the command line's libraries and
-- objects, library and framework paths, the C compiler (which it asks where libraries are).
linkerStartFlags :: DynFlags -> [String]
linkerStartFlags dflags =
  map option (ldInputs dflags) ++ ["-L" ++ p | p <- libraryPaths dflags] ++ ["-F" ++ p | p <- frameworkPaths dflags]
    ++ ["-framework " ++ f | f <- cmdlineFrameworks dflags] ++ ["-pgmc " ++ pgm_c dflags]
  where
    option (FileOption prefix file) = prefix ++ file
    option (Option o) = o

-- | Flags whose diagnostics are off, for GHC's own steps the worker takes outside the compile.
quiet :: HscEnv -> HscEnv
#if MIN_VERSION_ghc(9,4,0)
quiet hscEnv = hscEnv {hsc_dflags = dflags, hsc_logger = setLogFlags (hsc_logger hscEnv) (initLogFlags dflags)}
  where
    dflags = (hsc_dflags hscEnv) {verbosity = 0}
#else
quiet hscEnv = hscEnv {hsc_dflags = (hsc_dflags hscEnv) {verbosity = 0}}
#endif

#if MIN_VERSION_ghc(9,4,0)
sessionLoader hscEnv = case hsc_interp hscEnv of
  Just interp | InternalInterp <- interpInstance interp -> Just (interpLoader interp)
  _ -> Nothing

withSessionLoader loader hscEnv = hscEnv {hsc_interp = (\i -> i {interpLoader = loader}) <$> hsc_interp hscEnv}

loaderUnits loader = fmap (map loaded_pkg_uid . eltsUDFM . pkgs_loaded) <$> MVar.readMVar (loader_state loader)

unloadHomeCode hscEnv loader = do
  started <- isJust <$> MVar.readMVar (loader_state loader)
  let session = quiet (withSessionLoader loader hscEnv)
  when started $ do
    mapM_ (\interp -> unload interp session []) (hsc_interp session)
    MVar.modifyMVar_ (loader_state loader) (pure . fmap (\s -> s {temp_sos = []}))

keepLoaderUnits keep loader =
  MVar.modifyMVar_ (loader_state loader) (pure . fmap (\s -> s {pkgs_loaded = filterUDFM (keep . loaded_pkg_uid) (pkgs_loaded s)}))

preloadUnitIds = preloadUnits . hsc_units

unitDependencies hscEnv u = unitDepends <$> lookupUnitId (hsc_units hscEnv) u
#elif MIN_VERSION_ghc(9,2,0)
type Loader = ()

sessionLoader _ = Nothing
withSessionLoader _ = id
loaderUnits _ = pure Nothing
unloadHomeCode _ _ = pure ()
keepLoaderUnits _ _ = pure ()
preloadUnitIds _ = []
unitDependencies _ _ = Nothing
#else
type Loader = DynLinker

sessionLoader hscEnv = case hsc_interp hscEnv of
  Just InternalInterp -> Just (hsc_dynLinker hscEnv)
  _ -> Nothing

withSessionLoader loader hscEnv = hscEnv {hsc_dynLinker = loader}

-- 9.0 puts each newly loaded unit first.
loaderUnits loader = fmap (reverse . pkgs_loaded) <$> MVar.readMVar (dl_mpls loader)

unloadHomeCode hscEnv loader = do
  started <- isJust <$> MVar.readMVar (dl_mpls loader)
  when started $ do
    unload (quiet (withSessionLoader loader hscEnv)) []
    MVar.modifyMVar_ (dl_mpls loader) (pure . fmap (\s -> s {temp_sos = []}))

keepLoaderUnits keep loader =
  MVar.modifyMVar_ (dl_mpls loader) (pure . fmap (\s -> s {pkgs_loaded = filter keep (pkgs_loaded s)}))

preloadUnitIds = preloadUnits . unitState . hsc_dflags

unitDependencies hscEnv u = unitDepends <$> lookupUnitId (unitState (hsc_dflags hscEnv)) u
#endif

-- * Package databases
--
-- The parsed databases are a DynFlags field in 9.0, which initUnits reuses when set; since 9.4 they
-- belong to the home unit's entry in the UnitEnv, where setSessionDynFlags reuses them when present. 9.2
-- reuses none.

type UnitDatabases = [UnitDatabase UnitId]

-- | Hands databases parsed by an earlier request to the coming 'setSessionDynFlags'.
withUnitDatabases :: UnitDatabases -> DynFlags -> IO DynFlags

-- | GHC's setSessionDynFlags (since 9.4 after taking the databases offered by 'withUnitDatabases').
setSessionDynFlags :: GhcMonad m => DynFlags -> m ()

sessionUnitDatabases :: HscEnv -> UnitDatabases

-- | 'setSessionDynFlags', taking the given unit state instead of computing it when the session's flags
-- give its inputs their kept values, exactly.
setSessionDynFlagsKeeping :: Maybe KeptUnits -> DynFlags -> Ghc ()

-- | The session's unit state to keep, where it can be reused: not when GHC would print while computing
-- it (-v2 and above, -ddump-mod-map, -ddump-timings), nor for Backpack's instantiated home units.
sessionKeptUnits :: HscEnv -> Maybe KeptUnits

-- | A session's unit state (what GHC computes from the databases and the package flags) with what it was
-- computed from, kept so that a later session over the same databases (the caller's to check: same paths,
-- same files) and equal inputs takes it instead of computing it again. Only 9.0 keeps one
-- ('sessionKeptUnits'): since 9.2 the unit state is part of the UnitEnv, which GHC's setSessionDynFlags
-- builds together with the home unit and the platform constants.
#if MIN_VERSION_ghc(9,2,0)
data KeptUnits

setSessionDynFlagsKeeping _ = setSessionDynFlags

sessionKeptUnits _ = Nothing
#else
data KeptUnits = KeptUnits UnitInputs UnitState
#endif

-- | A unit's id as modules know it: wired-in units (base, ghc-prim, ...) by their wired-in ids.
wiredUnitId :: HscEnv -> UnitId -> UnitId

sessionHomeUnit :: HscEnv -> UnitId

#if MIN_VERSION_ghc(9,4,0)
-- | The driver sets the flags right after asking Ghcpw.Warm for databases: so the databases are offered
-- here, and the next 'setSessionDynFlags' of this process puts them into the fresh session before GHC
-- initialises its units (which then reads no database from disk).
withUnitDatabases dbs dflags = writeIORef offeredUnitDatabases (Just dbs) >> pure dflags

offeredUnitDatabases :: IORef (Maybe UnitDatabases)
offeredUnitDatabases = unsafePerformIO (newIORef Nothing)
{-# NOINLINE offeredUnitDatabases #-}

-- | Takes the offered databases once: a later call, such as --make's after compiling non-Haskell inputs,
-- finds them in the session anyway.
setSessionDynFlags dflags = do
  offered <- liftIO (atomicModifyIORef' offeredUnitDatabases (\o -> (Nothing, o)))
  case offered of
    Just dbs -> modifySession (\h -> h {hsc_unit_env = ue_setUnitDbs (Just dbs) (hsc_unit_env h)})
    Nothing -> pure ()
  GHC.setSessionDynFlags dflags

sessionUnitDatabases = fromMaybe [] . ue_unit_dbs . hsc_unit_env

-- | The unit state knows wired-in units by those ids; unwiring one gives its database id.
wiredUnitId hscEnv u = Map.findWithDefault u u wiredIds
  where
    units = hsc_units hscEnv
    wiredIds = Map.fromList [(toUnitId (unwireUnit units (RealUnit (Definite w))), w) | w <- map unitId (listUnitInfo units)]

sessionHomeUnit = homeUnitId_ . hsc_dflags
#elif MIN_VERSION_ghc(9,2,0)
withUnitDatabases _ = pure

setSessionDynFlags dflags = () <$ GHC.setSessionDynFlags dflags

sessionUnitDatabases = fromMaybe [] . hsc_unit_dbs

wiredUnitId hscEnv u = Map.findWithDefault u u wiredIds
  where
    units = ue_units (hsc_unit_env hscEnv)
    wiredIds = Map.fromList [(toUnitId (unwireUnit units (RealUnit (Definite w))), w) | w <- map unitId (listUnitInfo units)]

sessionHomeUnit = homeUnitId_ . hsc_dflags
#else
withUnitDatabases dbs dflags = pure dflags {unitDatabases = Just dbs}

setSessionDynFlags dflags = () <$ GHC.setSessionDynFlags dflags

-- | What GHC.Unit.State.initUnitConfig takes from the flags besides the databases and the installation
-- (the platform, GHC's directory), which a worker never changes.
data UnitInputs = UnitInputs
  { inputWays :: Set.Set Way
  , inputAutoLink :: Bool
  , inputHomeUnit :: UnitId
  , inputDistrustAll :: Bool
  , inputHideAll :: Bool
  , inputHideAllPlugins :: Bool
  , inputPackageDbs :: [PackageDBFlag]
  , inputPackages :: [PackageFlag]
  , inputIgnored :: [IgnorePackageFlag]
  , inputTrusted :: [TrustFlag]
  , inputPlugins :: [PackageFlag]
  }
  deriving (Eq)

unitInputs :: DynFlags -> Maybe UnitInputs
unitInputs d
  | verbosity d >= 2 || dopt Opt_D_dump_mod_map d || dopt Opt_D_dump_timings d = Nothing
  | not (null (homeUnitInstantiations d)) || isJust (homeUnitInstanceOfId d) = Nothing
  | otherwise =
      Just
        UnitInputs
          { inputWays = ways d
          , inputAutoLink = gopt Opt_AutoLinkPackages d
          , inputHomeUnit = homeUnitId d
          , inputDistrustAll = gopt Opt_DistrustAllPackages d
          , inputHideAll = gopt Opt_HideAllPackages d
          , inputHideAllPlugins = gopt Opt_HideAllPluginPackages d
          , inputPackageDbs = packageDBFlags d
          , inputPackages = packageFlags d
          , inputIgnored = ignorePackageFlags d
          , inputTrusted = trustFlags d
          , inputPlugins = pluginPackageFlags d
          }

-- GHC's setSessionDynFlags is checkNewDynFlags (not exported), then initUnits, then the session update.
-- So GHC's own runs with no databases and no package flags (which computes an empty unit state at once),
-- and the flags it leaves get the request's package flags back: they are then what initUnits would have
-- been given, and take either the kept unit state (same inputs) or initUnits' (as GHC would have).
setSessionDynFlagsKeeping Nothing dflags = setSessionDynFlags dflags
setSessionDynFlagsKeeping (Just (KeptUnits kept state)) dflags
  | Nothing <- unitInputs dflags = setSessionDynFlags dflags
  | otherwise = do
      setSessionDynFlags
        dflags {unitDatabases = Just [], packageFlags = [], ignorePackageFlags = [], trustFlags = [], pluginPackageFlags = []}
      checked <- hsc_dflags <$> GHC.getSession
      let restored =
            checked
              { unitDatabases = unitDatabases dflags
              , packageFlags = packageFlags dflags
              , ignorePackageFlags = ignorePackageFlags dflags
              , trustFlags = trustFlags dflags
              , pluginPackageFlags = pluginPackageFlags dflags
              }
      final <-
        if unitInputs restored == Just kept
          then pure restored {unitState = state}
          else liftIO (initUnits restored)
      modifySession (\h -> h {hsc_dflags = final, hsc_IC = (hsc_IC h) {ic_dflags = final}})

sessionKeptUnits hscEnv = (\inputs -> KeptUnits inputs (unitState dflags)) <$> unitInputs dflags
  where
    dflags = hsc_dflags hscEnv

sessionUnitDatabases = fromMaybe [] . unitDatabases . hsc_dflags

wiredUnitId hscEnv u = Map.findWithDefault u u (wireMap (unitState (hsc_dflags hscEnv)))

sessionHomeUnit = homeUnitId . hsc_dflags
#endif

unitDatabasePaths :: UnitDatabases -> [FilePath]
unitDatabasePaths = map unitDatabasePath

-- | Each database with the ids of its units.
databaseUnits :: UnitDatabases -> [(FilePath, [UnitId])]
databaseUnits dbs = [(unitDatabasePath db, map unitId (unitDatabaseUnits db)) | db <- dbs]

-- * What a request leaves running

-- | The threads of the process that have not finished, leaving out the RTS's own per-capability I/O
-- manager threads (which a request that raises the number of capabilities adds for good): since 9.6
-- (base 4.18) which ones, before only how many, counted by the RTS walk in cbits/live_threads.c, which
-- is only safe with one capability (otherwise Nothing).
data LiveThreads = ThreadsKnown [ThreadId] | ThreadsCounted Int

liveThreads :: IO (Maybe LiveThreads)
#if MIN_VERSION_ghc(9,6,0)
liveThreads = Just . ThreadsKnown <$> (filterM counts =<< listThreads)
  where
    counts t = (&&) <$> (unfinished <$> threadStatus t) <*> (not . ioManager <$> threadLabel t)
    unfinished s = case s of ThreadFinished -> False; ThreadDied -> False; _ -> True
    ioManager = maybe False ("IOManager on cap " `isPrefixOf`)
#else
liveThreads = do
  capabilities <- getNumCapabilities
  if capabilities /= 1
    then pure Nothing
    else do
      live <- c_liveThreads
      -- One I/O manager thread per capability the RTS has ever started (none without -threaded, where
      -- this only shifts every count alike).
      managers <- peek c_nCapabilities
      pure (Just (ThreadsCounted (live - fromIntegral managers)))

foreign import ccall unsafe "ghcpw_live_threads" c_liveThreads :: IO Int
foreign import ccall "&n_capabilities" c_nCapabilities :: Ptr CUInt
#endif

-- | The process of the session's external interpreter (-fexternal-interpreter), if it has been started:
-- GHC's own clean-up ('stopInterpreter') asks it to exit but never waits for it, which in a long-lived
-- process leaves a zombie per request. 9.0 keeps the interpreter in HscEnv directly; 9.2 wraps it in an
-- Interp with its loader; 9.10 shares the state between iserv and the JavaScript interpreter.
interpreterProcess :: HscEnv -> IO (Maybe ProcessHandle)

-- | Stops the session's external interpreter, as GHC's clean-up at the end of a session does.
stopInterpreter :: HscEnv -> IO ()
#if MIN_VERSION_ghc(9,10,0)
interpreterProcess hscEnv = case interpInstance <$> hsc_interp hscEnv of
  Just (ExternalInterp ext) -> withExtInterpStatus ext $ \status ->
    (\s -> case s of InterpRunning i -> Just (interpHandle (instProcess i)); InterpPending -> Nothing) <$> MVar.readMVar status
  _ -> pure Nothing

stopInterpreter = mapM_ stopInterp . hsc_interp
#elif MIN_VERSION_ghc(9,2,0)
interpreterProcess hscEnv = case interpInstance <$> hsc_interp hscEnv of
  Just (ExternalInterp _ (IServ status)) -> running <$> MVar.readMVar status
  _ -> pure Nothing
  where
    running s = case s of IServRunning i -> Just (iservProcess i); IServPending -> Nothing

stopInterpreter = mapM_ stopInterp . hsc_interp
#else
interpreterProcess hscEnv = case hsc_interp hscEnv of
  Just (ExternalInterp _ (IServ status)) -> running <$> MVar.readMVar status
  _ -> pure Nothing
  where
    running s = case s of IServRunning i -> Just (iservProcess i); IServPending -> Nothing

stopInterpreter = stopInterp
#endif
