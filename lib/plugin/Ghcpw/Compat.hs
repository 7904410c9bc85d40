{-# LANGUAGE CPP #-}

-- | Every difference between GHC versions that the plugin meets lives here, so the other modules read as
-- if there were one GHC. Built and tested against 9.0, 9.6 and 9.10; the 9.2, 9.4, 9.8 and 9.12 branches
-- follow those releases' API documentation and their ghc/Main.hs (not compiled here).
--
-- The shims mirror what ghc's own Main does at each step, so each one says which step it stands for.
module Ghcpw.Compat
  ( -- * The GHC API as the plugin uses it
    Ghc
  , DynFlags (ghcMode, ghcLink, verbosity, ldInputs)
  , outputFile
  , outputHi
  , GhcMode (..)
  , GhcLink (..)
  , Option (FileOption)
  , Phase
  , LoadHowMuch (..)
  , getSessionDynFlags
  , setSessionDynFlags
  , getSession
  , setTargets
  , load
  , failed
  , handleSourceError
  , printException
  , doMkDependHS
  , mkGeneralLocated
  , unLoc
  , isNoLink
  , isHaskellishTarget
  , topDir
  , FrontendPlugin
  , frontendWith
    -- * Shims over version differences
  , Stop (..)
  , runSession
  , defaultErrorHandler'
  , parseFlags
  , parseTargets
  , withPrettyErrors
  , showBanner
  , initUniques
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
  , ghcVersion
    -- * State kept between requests (see Ghcpw.Warm)
  , HscEnv
  , hsc_dflags
  , setSession
  , KeptNames
  , UnitDatabases
  , keepsNames
  , packageDbFlagsKey
  , withUnitDatabases
  , sessionUnitDatabases
  , unitDatabasePaths
  , unitDatabaseContents
  , interfaceKey
  , globalPackageDb
  , moduleUnitIdOf
  , InterfaceStore
  , resumeState
  , takeState
  , pruneStore
  , storeSize
  , loadTargets
  ) where

import Control.Monad.IO.Class (liftIO)
import GHC
  ( Ghc
  , GhcMonad
  , HscEnv
  , LoadHowMuch (..)
  , Target
  , getSession
  , getSessionDynFlags
  , guessTarget
  , load
  , printException
  , setSession
  , setTargets
  )
import qualified GHC
import GHC.Driver.MakeFile (doMkDependHS)
import GHC.Driver.Phases (Phase, isHaskellishTarget)
import qualified GHC.Driver.Phases as Phases
import GHC.Driver.Pipeline (compileFile, oneShot)
import GHC.Driver.Plugins (FrontendPlugin (..), defaultFrontendPlugin)
import GHC.Driver.Session
import GHC.Iface.Load (showIface)
import GHC.Settings.Config (cBooterVersion, cProjectVersion, cStage)
import GHC.Types.Basic (SuccessFlag, failed)
import GHC.Types.SrcLoc (Located, mkGeneralLocated, unLoc)
import GHC.Types.Unique.Supply (initUniqSupply)
import System.IO (hPutStr, hPutStrLn, stderr)

#if MIN_VERSION_ghc(9,2,0)
import GHC.Types.SourceError (handleSourceError)
import GHC.Utils.Logger (getLogger)
#else
import GHC.Driver.Main (newHscEnv)
import GHC.Driver.Types (handleFlagWarnings, handleSourceError, hsc_dflags)
#endif

#if MIN_VERSION_ghc(9,4,0)
import GHC.Driver.Config.Diagnostic (initDiagOpts)
import GHC.Driver.Config.Logger (initLogFlags)
import GHC.Driver.Env (hsc_NC, hsc_dflags, hsc_logger, hsc_units)
import GHC.Utils.Logger (Logger, setLogFlags)
#elif MIN_VERSION_ghc(9,2,0)
import GHC.Driver.Errors (handleFlagWarnings)
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

#if MIN_VERSION_ghc(9,6,0)
import GHC.Runtime.Loader (initializeSessionPlugins)
#endif

#if MIN_VERSION_ghc(9,2,0) && !MIN_VERSION_ghc(9,4,0)
import GHC.Driver.Env (hsc_dflags)
#endif
#if MIN_VERSION_ghc(9,4,0)
import Control.Concurrent.MVar (readMVar)
import Control.Exception (SomeException, evaluate, try)
import Control.Monad (filterM, when)
import Data.IORef (IORef, atomicModifyIORef', newIORef, readIORef, writeIORef)
import qualified Data.Map.Strict as Map
import Data.Maybe (fromMaybe)
import qualified Data.Set as Set
import GHC.Core (isBuiltinRule, ru_origin)
import GHC.Core.FamInstEnv (emptyFamInstEnv, extendFamInstEnvList, famInstEnvElts)
import GHC.Core.InstEnv (ClsInst, InstEnv, filterInstEnv, instEnvElts, is_dfun_name)
import GHC.Driver.Env (HscEnv (hsc_mod_graph, hsc_unit_env))
import GHC.Types.Annotations (AnnEnv, AnnPayload)
import GHC.Types.CompleteMatch (CompleteMatch, cmConLikes)
import GHC.Types.Name (Name, nameModule_maybe)
import GHC.Types.Name.Cache (NameCache (nsNames))
import GHC.Types.Name.Env (NameEnv, delListFromNameEnv, mapNameEnv, mkNameEnv)
import GHC.Types.Unique.DSet (uniqDSetToList)
import GHC.Types.Unique.FM (minusUFM, nonDetEltsUFM, sizeUFM)
import GHC.Unit.Env (UnitEnv (ue_eps), ue_setUnitDbs, ue_unit_dbs)
import GHC.Driver.Pipeline.Execute (getFileArgs)
import GHC.Unit.External (ExternalPackageState (..), ExternalUnitCache (..), PackageCompleteMatches, initExternalUnitCache)
import GHC.Unit.Info (unitId)
import GHC.Unit.Module.Env (InstalledModuleEnv, ModuleEnv, emptyInstalledModuleEnv, filterModuleEnv, lookupModuleEnv, moduleEnvElts, moduleEnvToList)
import GHC.Unit.Module.Graph (ModuleGraph, mgModSummaries, mkModuleGraph)
import GHC.Unit.Module.ModIface (mi_module)
import GHC.Unit.Module.ModSummary (ModSummary (ms_hspp_opts))
import GHC.Unit.State (UnitDatabase (..), listUnitInfo, unwireUnit)
import GHC.Unit.Types (Definite (..), GenUnit (RealUnit), Module, ModuleNameWithIsBoot, UnitId, moduleUnit, toUnitId)
import System.IO.Unsafe (unsafePerformIO)
import Unsafe.Coerce (unsafeCoerce)
#if MIN_VERSION_ghc(9,6,0)
import GHC.Types.Name.Occurrence (OccEnv, nonDetOccEnvElts)
#else
import GHC.Types.Name.Occurrence (OccEnv, occEnvElts)
#endif
#if !MIN_VERSION_ghc(9,12,0)
import GHC.Core.ConLike (conLikeName)
#endif
#elif MIN_VERSION_ghc(9,2,0)
import qualified Data.Set as Set
import GHC (Module, UnitId, setSessionDynFlags)
import GHC.Unit.Module (moduleUnit, toUnitId)
#else
import Control.Exception (SomeException, evaluate, try)
import Data.IORef (IORef, newIORef, readIORef, writeIORef)
import GHC.Iface.Load (initExternalPackageState)
import GHC.Parser.Header (getOptionsFromFile)
import Data.Maybe (fromMaybe)
import qualified Data.Set as Set
import GHC (setSessionDynFlags)
import GHC.Core (isBuiltinRule, ru_origin)
import GHC.Core.FamInstEnv (emptyFamInstEnv, extendFamInstEnvList, famInstEnvElts)
import Data.Either (rights)
import GHC.Core.InstEnv (ClsInst, InstEnv, emptyInstEnv, extendInstEnvList, instEnvElts, is_dfun_name)
import GHC.Driver.Types
  ( CompleteMatch (..)
  , ExternalPackageState (..)
  , HscEnv (hsc_mod_graph)
  , ModSummary (ms_hspp_opts)
  , ModuleGraph
  , PackageCompleteMatchMap
  , hsc_EPS
  , hsc_NC
  , mgModSummaries
  , mi_module
  , mkModuleGraph
  )
import GHC.Types.Annotations (AnnEnv, AnnPayload)
import Unsafe.Coerce (unsafeCoerce)
import GHC.Types.Name (Name, nameModule_maybe)
import GHC.Types.Name.Occurrence (OccEnv, occEnvElts)
import GHC.Types.Name.Cache (NameCache (nsNames))
import GHC.Types.Name.Env (NameEnv, delListFromNameEnv, mapNameEnv, mkNameEnv)
import GHC.Types.Unique.FM (eltsUFM, emptyUFM, mapUFM, minusUFM, nonDetEltsUFM, sizeUFM)
import GHC.Unit.Module (Module, UnitId, moduleUnit, toUnitId)
import GHC.Unit.Module.Env (ModuleEnv, ModuleNameEnv, emptyInstalledModuleEnv, filterModuleEnv, lookupModuleEnv, moduleEnvElts, moduleEnvToList)
import GHC.Unit.Types (ModuleNameWithIsBoot)
import qualified Data.Map as Map
import GHC.Unit.State (UnitDatabase (..), UnitState (wireMap))
import GHC.Unit.Info (unitId)
#endif

#if MIN_VERSION_ghc(9,4,0) || !MIN_VERSION_ghc(9,2,0)
import Control.Monad.Catch (finally)
import GHC.Driver.Make (downsweep)
import GHC.Driver.Monad (modifySession)
#endif

#if !MIN_VERSION_ghc(9,4,0)
import Data.List (isPrefixOf)
import GHC.Driver.Phases (isSourceFilename, isStopLn, startPhase)
import GHC.Utils.Misc (looksLikeModuleName)
import System.FilePath (hasExtension, normalise)
#endif

-- | Where a one-shot compile stops: -c (object, no link), -E (after preprocessing), -S (assembly).
data Stop = StopAfterLink | StopBeforeHsc | StopBeforeAs

-- | What the client's terminal allows: Unicode quotes and ANSI colours (and, where GHC has them, error
-- index links) in diagnostics.
data Terminal = Terminal {termUnicode :: Bool, termColour :: Bool}

ghcVersion :: String
ghcVersion = cProjectVersion

-- | A frontend plugin whose action gets its -ffrontend-opt options and the libdir of the GHC it runs in.
frontendWith :: ([String] -> FilePath -> IO ()) -> FrontendPlugin
frontendWith serve = defaultFrontendPlugin
  { frontend = \opts _ -> getSessionDynFlags >>= liftIO . serve opts . topDir }

-- | A fresh session as a newly started ghc would have it.
runSession :: FilePath -> Ghc a -> IO a
runSession libdir = GHC.runGhc (Just libdir)

defaultErrorHandler' :: IO a -> IO a
defaultErrorHandler' = GHC.defaultErrorHandler defaultFatalMessager defaultFlushOut

showBanner :: DynFlags -> IO ()
showBanner dflags =
  if verbosity dflags >= 2
    then do
      hPutStr stderr ("Glasgow Haskell Compiler, Version " ++ cProjectVersion ++ ", stage " ++ cStage)
      hPutStrLn stderr (" booted by GHC version " ++ cBooterVersion)
    else pure ()

-- | ghc's Main seeds the unique supply from the session's flags. The counter's type changed (Int, Word,
-- Word64), so the conversion is left to 'fromIntegral'.
initUniques :: DynFlags -> IO ()
initUniques dflags = initUniqSupply (fromIntegral (initialUnique dflags)) (uniqueIncrement dflags)

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
-- and so does this module.
parseTargets :: DynFlags -> [String] -> (DynFlags, [(String, Maybe Phase)], [String])
#if MIN_VERSION_ghc(9,4,0)
parseTargets = GHC.parseTargetFiles
#else
parseTargets dflags args = (dflags {ldInputs = map (FileOption "") objs ++ ldInputs dflags}, srcs, objs)
  where
    (srcs, objs) = partitionArgs (map normaliseHyphen args) [] []

partitionArgs :: [String] -> [(String, Maybe Phase)] -> [String] -> ([(String, Maybe Phase)], [String])
partitionArgs [] srcs objs = (reverse srcs, reverse objs)
partitionArgs ("-x" : suffix : args) srcs objs
  | suffix == "none" = partitionArgs args srcs objs
  | isStopLn phase = partitionArgs args srcs (slurp ++ objs)
  | otherwise = partitionArgs rest (zip slurp (repeat (Just phase)) ++ srcs) objs
  where
    phase = startPhase suffix
    (slurp, rest) = break (== "-x") args
partitionArgs (arg : args) srcs objs
  | looksLikeInput arg = partitionArgs args ((arg, Nothing) : srcs) objs
  | otherwise = partitionArgs args srcs (arg : objs)

looksLikeInput :: String -> Bool
looksLikeInput m = isSourceFilename m || looksLikeModuleName m || "-" `isPrefixOf` m || not (hasExtension m)

-- | ghc normalises file arguments but keeps "./-foo.hs" from turning into the flag "-foo.hs".
normaliseHyphen :: FilePath -> FilePath
normaliseHyphen fp
  | "./" `isPrefixOf` fp && "-" `isPrefixOf` nfp = "./" ++ nfp
  | otherwise = nfp
  where
    nfp = normalise fp
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

-- | Before 9.4 the pipeline's stop point was a Phase (StopLn for -c); since 9.4 it is a StopPhase, and
-- compileFile may return no object (e.g. with -fno-code). The sources' own OPTIONS_GHC pragmas are taken
-- into account first (see 'withFileFlags').
oneShotTo :: HscEnv -> Stop -> [(String, Maybe Phase)] -> IO ()
oneShotTo hscEnv stop srcs = withFileFlags hscEnv srcs >>= \env -> oneShot env (stopPoint stop) srcs

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

-- * State kept between requests
--
-- Ghcpw.Warm decides what to keep; these say where each GHC keeps it. Until a GHC's layout is covered
-- here, its workers keep nothing ('keepsNames' is False) and start every request fresh: 9.2 is such a
-- GHC. The 9.4, 9.8 and 9.12 layouts below follow those releases' sources (not compiled here); 9.6 and
-- 9.10 are built and tested.

-- | The package database flags (-package-db, -no-user-package-db, ...) in a comparable form.
packageDbFlagsKey :: DynFlags -> String
packageDbFlagsKey = show . map flag . packageDBFlags
  where
    flag (PackageDB GlobalPkgDb) = "global"
    flag (PackageDB UserPkgDb) = "user"
    flag (PackageDB (PkgDbPath p)) = "db " ++ p
    flag NoUserPackageDB = "no-user"
    flag NoGlobalPackageDB = "no-global"
    flag ClearPackageDBs = "clear"

-- | What decides which interface files (and which of their contents) a compile loads.
interfaceKey :: DynFlags -> String
interfaceKey dflags =
  show (Set.toList (ways dflags), gopt Opt_IgnoreInterfacePragmas dflags, gopt Opt_BuildDynamicToo dflags)

globalPackageDb :: DynFlags -> FilePath
globalPackageDb = globalPackageDatabasePath

moduleUnitIdOf :: Module -> UnitId
moduleUnitIdOf = toUnitId . moduleUnit

#if MIN_VERSION_ghc(9,4,0) || !MIN_VERSION_ghc(9,2,0)
-- | The session for a one-shot compile of these sources. The interfaces resumed into the session were
-- kept under the interface key of the command line's flags; a source whose OPTIONS_GHC pragmas change
-- that key (say {-# OPTIONS_GHC -O2 #-} in a -O0 build, which must read interfaces with their unfoldings)
-- is compiled with interfaces of its own, loaded afresh as a cold ghc would, and the kept ones stay as
-- they were. The pragmas are read the way GHC's pipeline reads them before compiling (from the source
-- as it is, before any CPP); a source GHC cannot read them from is left to GHC to report.
withFileFlags :: HscEnv -> [(String, Maybe Phase)] -> IO HscEnv
withFileFlags hscEnv srcs = do
  keys <- mapM fileKey [file | src@(file, _) <- srcs, isHaskellishTarget src]
  if all (== interfaceKey (hsc_dflags hscEnv)) (concat keys) then pure hscEnv else freshInterfaces hscEnv
  where
    fileKey file = do
      r <- try (fileFlags hscEnv file) :: IO (Either SomeException DynFlags)
      pure (either (const []) (\d -> [interfaceKey d]) r)
#endif

#if MIN_VERSION_ghc(9,4,0)
-- 9.4 and later: the name cache is a value (its names sit in an MVar) in HscEnv; the EPS variable is the
-- ExternalUnitCache of the session's UnitEnv; the parsed databases belong to the home unit's entry in the
-- UnitEnv, where setSessionDynFlags reuses them when present (and keeps the EPS and the name cache).
type KeptNames = NameCache
type Interfaces = ExternalPackageState
type UnitDatabases = [UnitDatabase UnitId]

-- | Where a set of interfaces lives across requests: the EPS variable itself, not a copy of its value.
-- Declarations read from interfaces are type-checked lazily, and each deferred check loads further
-- interfaces into the EPS variable of the session that read the declaration; with one variable per
-- interface key, what those checks load lands where later requests look for it.
type InterfaceStore = ExternalUnitCache

keepsNames :: Bool
keepsNames = True

-- | Since 9.4 the databases are part of the session rather than of its DynFlags, and the driver sets the
-- flags right after asking Ghcpw.Warm for databases: so the databases are offered here, and the next
-- 'setSessionDynFlags' of this process puts them into the fresh session before GHC initialises its units
-- (which then reads no database from disk).
withUnitDatabases :: UnitDatabases -> DynFlags -> IO DynFlags
withUnitDatabases dbs dflags = writeIORef offeredUnitDatabases (Just dbs) >> pure dflags

offeredUnitDatabases :: IORef (Maybe UnitDatabases)
offeredUnitDatabases = unsafePerformIO (newIORef Nothing)
{-# NOINLINE offeredUnitDatabases #-}

-- | GHC's setSessionDynFlags, after taking the databases offered by 'withUnitDatabases' (once: a later
-- call, such as --make's after compiling non-Haskell inputs, finds them in the session anyway).
setSessionDynFlags :: GhcMonad m => DynFlags -> m ()
setSessionDynFlags dflags = do
  offered <- liftIO (atomicModifyIORef' offeredUnitDatabases (\o -> (Nothing, o)))
  case offered of
    Just dbs -> modifySession (\h -> h {hsc_unit_env = ue_setUnitDbs (Just dbs) (hsc_unit_env h)})
    Nothing -> pure ()
  GHC.setSessionDynFlags dflags

sessionUnitDatabases :: HscEnv -> UnitDatabases
sessionUnitDatabases = fromMaybe [] . ue_unit_dbs . hsc_unit_env

-- | A unit's id as modules know it: wired-in units (base, ghc-prim, ...) by their wired-in ids. The unit
-- state knows wired-in units by those ids; unwiring one gives its database id.
wiredUnitId :: HscEnv -> UnitId -> UnitId
wiredUnitId hscEnv u = Map.findWithDefault u u wiredIds
  where
    units = hsc_units hscEnv
    wiredIds = Map.fromList [(toUnitId (unwireUnit units (RealUnit (Definite w))), w) | w <- map unitId (listUnitInfo units)]

sessionHomeUnit :: HscEnv -> UnitId
sessionHomeUnit = homeUnitId_ . hsc_dflags

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

-- | The interface table of a store.
storeRef :: InterfaceStore -> IORef Interfaces
storeRef (ExternalUnitCache store) = store

-- | The names the name cache holds, by module.
cachedNames :: KeptNames -> IO (ModuleEnv (OccEnv Name))
cachedNames = readMVar . nsNames

type CompleteMatchTable = PackageCompleteMatches

-- | The COMPLETE pragmas of kept modules. Since 9.4 they hold ConLikes, type-checked lazily, and not
-- their module: so they are settled first, before the store is read for pruning, and whatever settling
-- them loads is pruned with the rest.
keptCompleteMatches :: (Module -> Bool) -> IORef Interfaces -> IO CompleteMatchTable
keptCompleteMatches keep store = do
  settleCompleteMatches store
  filterM (keepCompleteMatch keep) . eps_complete_matches =<< readIORef store

completeMatchCount :: CompleteMatchTable -> Int
completeMatchCount = length

noBootModules :: InstalledModuleEnv ModuleNameWithIsBoot
noBootModules = emptyInstalledModuleEnv

filterInstances :: (ClsInst -> Bool) -> InstEnv -> InstEnv
filterInstances = filterInstEnv

-- | Evaluates every COMPLETE pragma of the store and the names of its constructors, until evaluating
-- them loads no more (each interface loaded appends its own). A pragma that fails to evaluate is left
-- failed; 'keepCompleteMatch' drops it.
settleCompleteMatches :: IORef Interfaces -> IO ()
settleCompleteMatches store = go 0
  where
    go settled = do
      matches <- eps_complete_matches <$> readIORef store
      mapM_ settle (drop settled matches)
      now <- length . eps_complete_matches <$> readIORef store
      when (now > length matches) (go (length matches))
    settle m = try (evaluate (foldr (seq . nameModule_maybe) () (completeMatchNames m))) :: IO (Either SomeException ())

-- | Whether a (settled) COMPLETE pragma is about kept modules' constructors only. GHC rejects orphan
-- COMPLETE pragmas (each names a constructor or pattern synonym of its own module), and kept modules do
-- not depend on dropped ones: so this keeps exactly the pragmas of kept modules.
keepCompleteMatch :: (Module -> Bool) -> CompleteMatch -> IO Bool
keepCompleteMatch keep m = do
  r <- try (evaluate (all (maybe False keep . nameModule_maybe) (completeMatchNames m))) :: IO (Either SomeException Bool)
  pure (either (const False) id r)

-- | The names of the constructors and pattern synonyms a COMPLETE pragma lists (since 9.12 the EPS holds
-- them as names).
completeMatchNames :: CompleteMatch -> [Name]
#if MIN_VERSION_ghc(9,12,0)
completeMatchNames = uniqDSetToList . cmConLikes
#else
completeMatchNames = map conLikeName . uniqDSetToList . cmConLikes
#endif

-- | The session's flags with a source's OPTIONS_GHC pragmas applied, as GHC's pipeline applies them.
fileFlags :: HscEnv -> FilePath -> IO DynFlags
fileFlags hscEnv file = (\(dflags, _, _) -> dflags) <$> getFileArgs hscEnv file

-- | The session with an EPS of its own, empty.
freshInterfaces :: HscEnv -> IO HscEnv
freshInterfaces hscEnv = initExternalUnitCache >>= \cache -> pure (resumeState Nothing (Just cache) hscEnv)

-- | GHC's downsweep of the session's targets; its errors are left for load to report.
downsweepGraph :: HscEnv -> IO ModuleGraph
downsweepGraph hscEnv = mkModuleGraph . snd <$> downsweep hscEnv [] [] False

#elif MIN_VERSION_ghc(9,2,0)
type KeptNames = ()
type InterfaceStore = ()
type UnitDatabases = ()

keepsNames :: Bool
keepsNames = False

withUnitDatabases :: UnitDatabases -> DynFlags -> IO DynFlags
withUnitDatabases _ = pure

sessionUnitDatabases :: HscEnv -> UnitDatabases
sessionUnitDatabases _ = ()

unitDatabasePaths :: UnitDatabases -> [FilePath]
unitDatabasePaths _ = []

unitDatabaseContents :: HscEnv -> [(FilePath, [UnitId])]
unitDatabaseContents _ = []

resumeState :: Maybe KeptNames -> Maybe InterfaceStore -> HscEnv -> HscEnv
resumeState _ _ = id

takeState :: HscEnv -> (KeptNames, InterfaceStore)
takeState _ = ((), ())

pruneStore :: (Module -> Bool) -> KeptNames -> InterfaceStore -> IO ()
pruneStore _ _ _ = pure ()

storeSize :: InterfaceStore -> IO Int
storeSize _ = pure 0

withFileFlags :: HscEnv -> [(String, Maybe Phase)] -> IO HscEnv
withFileFlags hscEnv _ = pure hscEnv

loadTargets :: Ghc SuccessFlag
loadTargets = load LoadAllTargets
#else
-- 9.0: the name cache and the EPS are IORefs in HscEnv; the parsed databases are a DynFlags field that
-- initUnits reuses when set.
type KeptNames = IORef NameCache
type Interfaces = ExternalPackageState
type UnitDatabases = [UnitDatabase UnitId]

-- | Where a set of interfaces lives across requests: the EPS variable itself, not a copy of its value.
-- Declarations read from interfaces are type-checked lazily, and each deferred check loads further
-- interfaces into the EPS variable of the session that read the declaration; with one variable per
-- interface key, what those checks load lands where later requests look for it.
type InterfaceStore = IORef ExternalPackageState

keepsNames :: Bool
keepsNames = True

withUnitDatabases :: UnitDatabases -> DynFlags -> IO DynFlags
withUnitDatabases dbs dflags = pure dflags {unitDatabases = Just dbs}

sessionUnitDatabases :: HscEnv -> UnitDatabases
sessionUnitDatabases = fromMaybe [] . unitDatabases . hsc_dflags

-- | A unit's id as modules know it: wired-in units (base, ghc-prim, ...) by their wired-in ids.
wiredUnitId :: HscEnv -> UnitId -> UnitId
wiredUnitId hscEnv u = Map.findWithDefault u u (wireMap (unitState (hsc_dflags hscEnv)))

sessionHomeUnit :: HscEnv -> UnitId
sessionHomeUnit = homeUnitId . hsc_dflags

resumeState :: Maybe KeptNames -> Maybe InterfaceStore -> HscEnv -> HscEnv
resumeState names store hscEnv =
  hscEnv {hsc_NC = fromMaybe (hsc_NC hscEnv) names, hsc_EPS = fromMaybe (hsc_EPS hscEnv) store}

takeState :: HscEnv -> (KeptNames, InterfaceStore)
takeState hscEnv = (hsc_NC hscEnv, hsc_EPS hscEnv)

storeRef :: InterfaceStore -> IORef Interfaces
storeRef = id

cachedNames :: KeptNames -> IO (ModuleEnv (OccEnv Name))
cachedNames = fmap nsNames . readIORef

type CompleteMatchTable = PackageCompleteMatchMap

-- | The COMPLETE pragmas of kept modules' types (in 9.0 each is filed under its type constructor).
keptCompleteMatches :: (Module -> Bool) -> IORef Interfaces -> IO CompleteMatchTable
keptCompleteMatches keep store =
  mapUFM (filter (maybe False keep . nameModule_maybe . completeMatchTyCon)) . eps_complete_matches <$> readIORef store

completeMatchCount :: CompleteMatchTable -> Int
completeMatchCount = sum . map length . eltsUFM

noBootModules :: ModuleNameEnv ModuleNameWithIsBoot
noBootModules = emptyUFM

filterInstances :: (ClsInst -> Bool) -> InstEnv -> InstEnv
filterInstances keep = extendInstEnvList emptyInstEnv . filter keep . instEnvElts

-- | The session's flags with a source's OPTIONS_GHC pragmas applied, as GHC's pipeline applies them.
fileFlags :: HscEnv -> FilePath -> IO DynFlags
fileFlags hscEnv file = do
  let dflags = hsc_dflags hscEnv
  opts <- getOptionsFromFile dflags file
  (\(dflags', _, _) -> dflags') <$> parseDynamicFilePragma dflags opts

-- | The session with an EPS of its own, empty.
freshInterfaces :: HscEnv -> IO HscEnv
freshInterfaces hscEnv = newIORef (initExternalPackageState (hsc_dflags hscEnv)) >>= \ref -> pure hscEnv {hsc_EPS = ref}

-- | GHC's downsweep of the session's targets; its errors are left for load to report.
downsweepGraph :: HscEnv -> IO ModuleGraph
downsweepGraph hscEnv = mkModuleGraph . rights <$> downsweep hscEnv [] [] False

#endif

#if MIN_VERSION_ghc(9,4,0) || !MIN_VERSION_ghc(9,2,0)
unitDatabasePaths :: UnitDatabases -> [FilePath]
unitDatabasePaths = map unitDatabasePath

-- | Each of the session's databases with the ids its units have in modules: wired-in units (base,
-- ghc-prim, ...) are known by their wired-in ids. The unit being compiled is never among them, even if a
-- database has a unit of the same id (its interfaces are the request's own).
unitDatabaseContents :: HscEnv -> [(FilePath, [UnitId])]
unitDatabaseContents hscEnv =
  [ (unitDatabasePath db, [u | info <- unitDatabaseUnits db, unitId info /= home, let u = wiredUnitId hscEnv (unitId info), u /= home])
  | db <- sessionUnitDatabases hscEnv
  ]
  where
    home = sessionHomeUnit hscEnv

-- | Prunes a store in place (see 'pruneInterfaces'), its tables fully evaluated.
--
-- Nothing here may force a declaration once the store has been read: declarations are type-checked
-- lazily, and forcing one can load further interfaces into the very store being replaced. So the type
-- environment is pruned by the names the name cache holds for the dropped modules, never by looking at
-- the declarations themselves (see 'keptCompleteMatches' for the one table that needs a look).
pruneStore :: (Module -> Bool) -> KeptNames -> InterfaceStore -> IO ()
pruneStore keep names store = do
  completes <- keptCompleteMatches keep (storeRef store)
  cache <- cachedNames names
  eps <- readIORef (storeRef store)
  let dropped =
        concat [if m == mi_module iface then [m] else [m, mi_module iface] | (m, iface) <- moduleEnvToList (eps_PIT eps), not (keep m)]
      droppedNames = concat [occNames occs | m <- dropped, Just occs <- [lookupModuleEnv cache m]]
      pruned = pruneInterfaces keep droppedNames completes eps
  forceInterfaces pruned
  writeIORef (storeRef store) pruned

occNames :: OccEnv Name -> [Name]
#if MIN_VERSION_ghc(9,6,0)
occNames = nonDetOccEnvElts
#else
occNames = occEnvElts
#endif

-- | The interfaces of kept modules only, with every table derived from them filtered alike.
pruneInterfaces :: (Module -> Bool) -> [Name] -> CompleteMatchTable -> Interfaces -> Interfaces
pruneInterfaces keep droppedNames completes eps =
  eps
    { eps_is_boot = noBootModules
    , eps_PIT = filterModuleEnv (\m _ -> keep m) (eps_PIT eps)
    , eps_free_holes = emptyInstalledModuleEnv
    , eps_PTE = delListFromNameEnv (eps_PTE eps) droppedNames
    , eps_inst_env = filterInstances (keepName . is_dfun_name) (eps_inst_env eps)
    , eps_fam_inst_env = extendFamInstEnvList emptyFamInstEnv (concatMap famInstEnvElts (moduleEnvElts modFamInsts))
    , eps_rule_base = mapNameEnv (filter (\r -> isBuiltinRule r || keep (ru_origin r))) (eps_rule_base eps)
    , eps_ann_env = filterAnnotations keep (mkNameEnv [(n, ()) | n <- droppedNames]) (eps_ann_env eps)
    , eps_complete_matches = completes
    , eps_mod_fam_inst_env = modFamInsts
    }
  where
    keepName n = maybe False keep (nameModule_maybe n)
    modFamInsts = filterModuleEnv (\m _ -> keep m) (eps_mod_fam_inst_env eps)

-- | Evaluates the filtered tables all the way, so no thunk keeps the unfiltered ones alive.
forceInterfaces :: Interfaces -> IO ()
forceInterfaces eps = do
  _ <- evaluate (sizeUFM (eps_PTE eps))
  _ <- evaluate (length (instEnvElts (eps_inst_env eps)))
  _ <- evaluate (length (famInstEnvElts (eps_fam_inst_env eps)))
  _ <- evaluate (sum (map length (nonDetEltsUFM (eps_rule_base eps))))
  _ <- evaluate (completeMatchCount (eps_complete_matches eps))
  _ <- evaluate (length (moduleEnvElts (eps_PIT eps)))
  pure ()

storeSize :: InterfaceStore -> IO Int
storeSize store = length . moduleEnvElts . eps_PIT <$> readIORef (storeRef store)

-- | --make's load of all targets. As in 'withFileFlags', a module whose own OPTIONS_GHC change the
-- interface key must not read the interfaces kept for the command line's key: if any module of the build
-- has such pragmas, the whole build gets interfaces of its own, loaded afresh as a cold ghc --make loads
-- them, and the kept ones are put back afterwards. The modules are found by GHC's own downsweep; its
-- summaries are left in the session, where load reuses them (re-reading only sources changed since).
-- At -v2 and above that early downsweep would show its work out of ghc's order, so there the build always
-- gets interfaces of its own.
loadTargets :: Ghc SuccessFlag
loadTargets = do
  hscEnv <- getSession
  let dflags = hsc_dflags hscEnv
  sameKey <-
    if verbosity dflags >= 2
      then pure False
      else do
        graph <- liftIO (downsweepGraph hscEnv)
        setSession hscEnv {hsc_mod_graph = graph}
        pure (all ((== interfaceKey dflags) . interfaceKey . ms_hspp_opts) (mgModSummaries graph))
  if sameKey
    then load LoadAllTargets
    else do
      kept <- snd . takeState <$> getSession
      setSession =<< liftIO . freshInterfaces =<< getSession
      load LoadAllTargets `finally` modifySession (resumeState Nothing (Just kept))
#endif

#if MIN_VERSION_ghc(9,4,0) || !MIN_VERSION_ghc(9,2,0)
-- | GHC's AnnEnv, field for field. GHC exports no way to filter or list an AnnEnv, so its fields are read
-- and written through this identically laid out type (one constructor, the same two strict, boxed
-- fields: data MkAnnEnv !(ModuleEnv [AnnPayload]) !(NameEnv [AnnPayload]) in 9.0 to 9.10).
data AnnEnvFields = AnnEnvFields {-# NOUNPACK #-} !(ModuleEnv [AnnPayload]) {-# NOUNPACK #-} !(NameEnv [AnnPayload])

-- | The annotations of kept modules, and of names other than those of dropped modules.
filterAnnotations :: (Module -> Bool) -> NameEnv a -> AnnEnv -> AnnEnv
filterAnnotations keep droppedNames anns =
  case unsafeCoerce anns of
    AnnEnvFields byModule byName ->
      unsafeCoerce
        ( AnnEnvFields
            (filterModuleEnv (\m _ -> keep m) byModule)
            (minusUFM byName droppedNames)
        )
#endif
