{-# LANGUAGE ScopedTypeVariables #-}

-- | Runs one GHC invocation the way ghc's own Main does for the modes a build tool sends. ghc's Main is
-- not part of the ghc library, so its mode handling is mirrored here; anything whose output this module
-- cannot reproduce exactly (flag errors and usage errors among them) is handed back to the server with
-- 'Deferred', before anything has been printed, and the server runs the real ghc for it instead.
module Ghcpw.Driver
  ( Mode (..)
  , parseMode
  , Outcome (..)
  , invoke
  ) where

import Control.Exception (Exception, SomeException, catch, fromException, throwIO, try)
import Control.Monad (filterM, unless, when)
import Control.Monad.Catch (finally)
import Control.Monad.IO.Class (liftIO)
import Data.List (isPrefixOf, partition)
import Data.Maybe (isJust, maybeToList)
import GHC.Conc.Sync (reportError)
import System.Directory (createDirectory, doesDirectoryExist, removePathForcibly)
import System.Exit (ExitCode (..), exitWith)
import Data.IORef (modifyIORef', newIORef)
import qualified Data.Map as Map
import System.FilePath (takeDirectory, (</>))
import GHC
  ( Ghc
  , getSession
  , getSessionDynFlags
  , printException
  , setSession
  , setTargets
  )
import qualified GHC
import GHC.Driver.MakeFile (doMkDependHS)
import qualified GHC.Driver.Monad as Monad
import GHC.Driver.Phases (Phase, isHaskellishTarget)
import GHC.Driver.Session
import GHC.Settings.Config (cBooterVersion, cProjectVersion, cStage)
import GHC.Types.Basic (failed)
import GHC.Types.SrcLoc (mkGeneralLocated, unLoc)
import GHC.Types.Unique.Supply (initUniqSupply)
import GHC.Utils.Panic (panic)
import System.IO (hPutStr, hPutStrLn, stderr)

import Ghcpw.Compat
import Ghcpw.Context (Output)
import Ghcpw.Interfaces (loadTargets, runOneShot)
import Ghcpw.Stages (Stage (..), switchStage)
import Ghcpw.Sources (noteModuleSources)
import Ghcpw.Stale (noteStaleModules)
import Ghcpw.Leftovers (stopInterpreterProcess)
import Ghcpw.RanCode (recordRanCode)
import Ghcpw.Warm

-- | The mode flags the server has already taken out of argv (see lib/ghc/mode.ts).
data Mode = ModeOneShot Stop | ModeMake | ModeDepend | ModeShowIface FilePath

parseMode :: [String] -> Either String Mode
parseMode ["c"] = Right (ModeOneShot StopAfterLink)
parseMode ["E"] = Right (ModeOneShot StopBeforeHsc)
parseMode ["S"] = Right (ModeOneShot StopBeforeAs)
parseMode ["make"] = Right ModeMake
parseMode ["M"] = Right ModeDepend
parseMode ["show-iface", file] = Right (ModeShowIface file)
parseMode other = Left ("unknown mode " ++ show other)

data Outcome = Exited Int | Deferred String

newtype DeferToGhc = DeferToGhc String deriving (Show)

instance Exception DeferToGhc

-- | Runs the invocation in a fresh GHC session into which the worker's kept state is resumed (see
-- Ghcpw.Warm); GHC's own error handler prints errors as ghc would. GHC's temporary files go into the
-- request's own directory (see 'placeTemporaries').
invoke :: Warm -> Installation -> FilePath -> Output -> Mode -> [String] -> Terminal -> IO Outcome
invoke warm installation requestDir output mode args terminal = do
  switchStage Init
  r <- try (GHC.defaultErrorHandler defaultFatalMessager defaultFlushOut (run `catch` \(DeferToGhc why) -> pure (Deferred why)))
  case r of
    Left e
      | Just ExitSuccess <- fromException e -> pure (Exited 0)
      | Just (ExitFailure n) <- fromException e -> pure (Exited n)
      | otherwise -> uncaught e
    Right outcome -> pure outcome
  where
    run = do
      runSession installation (compile warm requestDir output mode args terminal `finally` (getSession >>= liftIO . stopInterpreterProcess))
      pure (Exited 0)
    -- What the runtime's top-level handler does in a ghc of its own with an exception GHC's error handler
    -- let through (one raised while reporting another, say on a stdout or stderr that a splice closed):
    -- it reports it through the uncaught-exception handler (the program's name, the exception, on fd 2
    -- whatever became of the stderr Handle), and the process exits with 1.
    uncaught :: SomeException -> IO Outcome
    uncaught e = reportError e >> pure (Exited 1)

-- | GHC's runGhc, with the session made from the installation the worker read once (see
-- 'Ghcpw.Compat.Installation') instead of reading GHC's settings files again.
runSession :: Installation -> Ghc a -> IO a
runSession installation ghc = do
  ref <- newIORef (panic "empty session")
  flip Monad.unGhc (Monad.Session ref) $ GHC.withSignalHandlers $ do
    setSession =<< liftIO (newSessionEnv installation)
    GHC.withCleanupSession ghc

exitFailure1 :: IO a
exitFailure1 = exitWith (ExitFailure 1)

compile :: Warm -> FilePath -> Output -> Mode -> [String] -> Terminal -> Ghc ()
compile warm requestDir output mode args terminal = do
  liftIO (switchStage Session)
  dflags0 <- getSessionDynFlags
  let dflags1 =
        applyTerminal terminal dflags0
          { ghcMode = case mode of ModeMake -> CompManager; ModeDepend -> MkDepend; _ -> OneShot
          , ghcLink = LinkBinary
          , verbosity = 1
          }
  (dflags2, fileish, printFlagWarnings) <- parseFlags dflags1 (map (mkGeneralLocated "on the commandline") args)
  let (dflags3, srcs, objs) = parseTargets dflags2 (map unLoc fileish)
  liftIO (deferUnlessReproducible mode dflags3 srcs objs)
  withPrettyErrors dflags2 $ do
    onSourceError printFlagWarnings
    liftIO (showBanner dflags2)
    (dflags3', keptUnits, dbKey) <- liftIO (reuseUnitDatabases warm dflags3)
    setSessionDynFlagsKeeping keptUnits dflags3'
    liftIO . placeTemporaries requestDir =<< getSession
    (warmNames, saveState) <- resumeInterfaces warm dbKey
    dflags4 <- getSessionDynFlags
    -- Kept names hold uniques from the supply: reseeding it would hand the same uniques out again.
    unless warmNames (liftIO (initUniques dflags4))
    initSessionPlugins
    setSession . observeMeta recordRanCode . withStageTimes =<< getSession
    hscEnv <- getSession
    liftIO (warnUnusedLinkerInputs mode dflags4 objs)
    liftIO (switchStage Driver)
    flip finally (liftIO (switchStage Save) >> saveState) $ onSourceError $ case mode of
      ModeShowIface file -> liftIO (showInterface hscEnv file)
      ModeMake -> doMake output srcs
      ModeDepend -> doMkDependHS (map fst srcs)
      ModeOneShot stop -> liftIO (runOneShot output hscEnv stop srcs)
  where
    onSourceError = handleSourceError (\e -> printException e >> liftIO exitFailure1)

-- | Puts the session's temporary files into a directory inside the request's own, where their paths
-- never repeat between requests (a process's dlopen caches libraries by path, and Template Haskell loads
-- the ones GHC links into temporary files) and the server knows them for per-request files.
--
-- GHC itself must still see the temporary directory the client's environment and flags name, as a cold
-- ghc does: it leaves out of a module's dependent files every CPP include whose path starts with that
-- directory. So the flags keep naming it, and GHC's map from that directory to the one it actually uses
-- is given the request's directory in advance. That is only right where the request's directory lies
-- inside the client's, by GHC's test (a prefix of the path), so that GHC's own temporary files are left
-- out as a cold ghc's are; otherwise GHC makes a directory of its own in the client's, as ghc would.
placeTemporaries :: FilePath -> HscEnv -> IO ()
placeTemporaries requestDir hscEnv =
  case temporaryDirectories hscEnv of
    Just dirs | clientDir `isPrefixOf` requestDir -> do
      let dir = requestDir </> "ghc"
      -- A request retried after its worker died finds what that worker left there.
      removePathForcibly dir
      createDirectory dir
      modifyIORef' dirs (Map.insert clientDir dir)
    _ -> pure ()
  where
    clientDir = flagsTmpDir (hsc_dflags hscEnv)

-- | ghc's --make: link-only when there are no Haskell sources, else compile non-Haskell inputs first.
doMake :: Output -> [(String, Maybe Phase)] -> Ghc ()
doMake output srcs = do
  let (hsSrcs, otherSrcs) = partition isHaskellishTarget srcs
  hscEnv <- getSession
  if null hsSrcs
    then liftIO (runOneShot output hscEnv StopAfterLink srcs)
    else do
      objs <- liftIO (concat <$> mapM (fmap maybeToList . compileToObject hscEnv) otherSrcs)
      dflags <- getSessionDynFlags
      _ <- setSessionDynFlags dflags {ldInputs = map (FileOption "") objs ++ ldInputs dflags}
      targets <- mapM (uncurry guessTargetFile) hsSrcs
      setTargets targets
      ok <- loadTargets
      when (failed ok) (liftIO exitFailure1)
      noteStaleModules
      noteModuleSources

-- | The checks ghc's checkOptions makes that end in a usage error, plus the diagnostics this module does
-- not reproduce (-v4 and above, final statistics): all of them go to the real ghc.
deferUnlessReproducible :: Mode -> DynFlags -> [(String, Maybe Phase)] -> [String] -> IO ()
deferUnlessReproducible mode dflags srcs objs = do
  let unknown = [f | (f@('-' : _), _) <- srcs]
      compManager = case mode of ModeMake -> True; _ -> False
      linkMode = isLinkMode mode
      notLinking = not linkMode || isNoLink (ghcLink dflags)
      needsInputs = case mode of ModeShowIface _ -> False; _ -> True
      stopAtAs = case mode of ModeOneShot StopBeforeAs -> True; _ -> False
  missingDirs <- filterM (fmap not . doesDirectoryExist . takeDirectory) (maybeToList (outputFile dflags) ++ maybeToList (outputHi dflags))
  let reasons =
        [ "unrecognised flags " ++ unwords unknown | not (null unknown) ]
          ++ [ "-ohi with several sources" | isJust (outputHi dflags) && (compManager || length srcs > 1) ]
          ++ [ "-dynohi with several sources" | isJust (dynOutputHiFile dflags) && (compManager || length srcs > 1) ]
          ++ [ "-o with several sources" | length srcs > 1 && isJust (outputFile dflags) && not linkMode ]
          ++ [ "no input files" | null srcs && (null objs || notLinking) && needsInputs ]
          ++ [ "-S with -fno-code" | stopAtAs && isNoLink (ghcLink dflags) ]
          ++ [ "output directory missing" | not (null missingDirs) ]
          ++ [ "verbosity 4 or more" | verbosity dflags >= 4 ]
          ++ [ "final statistics (-dfaststring-stats, -ddump-faststrings)" | wantsFinalStats dflags ]
          ++ [ "temporary files to keep (they go to a directory the server removes)" | gopt Opt_KeepTmpFiles dflags ]
  unless (null reasons) $ throwIO (DeferToGhc (unwords reasons))

warnUnusedLinkerInputs :: Mode -> DynFlags -> [String] -> IO ()
warnUnusedLinkerInputs mode dflags objs = do
  when ((not (isLinkMode mode) || isNoLink (ghcLink dflags)) && not (null objs)) $
    hPutStrLn stderr ("Warning: the following files would be used as linker inputs, but linking is not being done: " ++ unwords objs)

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

isLinkMode :: Mode -> Bool
isLinkMode ModeMake = True
isLinkMode (ModeOneShot StopAfterLink) = True
isLinkMode _ = False
