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
import Data.List (partition)
import Data.Maybe (isJust, maybeToList)
import GHC.Conc.Sync (reportError)
import System.Directory (doesDirectoryExist)
import System.Exit (ExitCode (..), exitWith)
import System.FilePath (takeDirectory)
import System.IO (hPutStrLn, stderr)

import Ghcpw.Compat
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
-- Ghcpw.Warm); GHC's own error handler prints errors as ghc would.
invoke :: Warm -> FilePath -> Mode -> [String] -> Terminal -> IO Outcome
invoke warm libdir mode args terminal = do
  r <- try (defaultErrorHandler' (run `catch` \(DeferToGhc why) -> pure (Deferred why)))
  case r of
    Left e
      | Just ExitSuccess <- fromException e -> pure (Exited 0)
      | Just (ExitFailure n) <- fromException e -> pure (Exited n)
      | otherwise -> uncaught e
    Right outcome -> pure outcome
  where
    run = runSession libdir (compile warm mode args terminal) >> pure (Exited 0)
    -- What the runtime's top-level handler does in a ghc of its own with an exception GHC's error handler
    -- let through (one raised while reporting another, say on a stdout or stderr that a splice closed):
    -- it reports it through the uncaught-exception handler (the program's name, the exception, on fd 2
    -- whatever became of the stderr Handle), and the process exits with 1.
    uncaught :: SomeException -> IO Outcome
    uncaught e = reportError e >> pure (Exited 1)

exitFailure1 :: IO a
exitFailure1 = exitWith (ExitFailure 1)

compile :: Warm -> Mode -> [String] -> Terminal -> Ghc ()
compile warm mode args terminal = do
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
    (dflags3', dbKey) <- liftIO (reuseUnitDatabases warm dflags3)
    _ <- setSessionDynFlags dflags3'
    (warmNames, saveState) <- resumeInterfaces warm dbKey
    dflags4 <- getSessionDynFlags
    -- Kept names hold uniques from the supply: reseeding it would hand the same uniques out again.
    unless warmNames (liftIO (initUniques dflags4))
    initSessionPlugins
    hscEnv <- getSession
    liftIO (warnUnusedLinkerInputs mode dflags4 objs)
    flip finally saveState $ onSourceError $ case mode of
      ModeShowIface file -> liftIO (showInterface hscEnv file)
      ModeMake -> doMake srcs
      ModeDepend -> doMkDependHS (map fst srcs)
      ModeOneShot stop -> liftIO (oneShotTo hscEnv stop srcs)
  where
    onSourceError = handleSourceError (\e -> printException e >> liftIO exitFailure1)

-- | ghc's --make: link-only when there are no Haskell sources, else compile non-Haskell inputs first.
doMake :: [(String, Maybe Phase)] -> Ghc ()
doMake srcs = do
  let (hsSrcs, otherSrcs) = partition isHaskellishTarget srcs
  hscEnv <- getSession
  if null hsSrcs
    then liftIO (oneShotTo hscEnv StopAfterLink srcs)
    else do
      objs <- liftIO (concat <$> mapM (fmap maybeToList . compileToObject hscEnv) otherSrcs)
      dflags <- getSessionDynFlags
      _ <- setSessionDynFlags dflags {ldInputs = map (FileOption "") objs ++ ldInputs dflags}
      targets <- mapM (uncurry guessTargetFile) hsSrcs
      setTargets targets
      ok <- loadTargets
      when (failed ok) (liftIO exitFailure1)

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
  unless (null reasons) $ throwIO (DeferToGhc (unwords reasons))

warnUnusedLinkerInputs :: Mode -> DynFlags -> [String] -> IO ()
warnUnusedLinkerInputs mode dflags objs = do
  when ((not (isLinkMode mode) || isNoLink (ghcLink dflags)) && not (null objs)) $
    hPutStrLn stderr ("Warning: the following files would be used as linker inputs, but linking is not being done: " ++ unwords objs)

isLinkMode :: Mode -> Bool
isLinkMode ModeMake = True
isLinkMode (ModeOneShot StopAfterLink) = True
isLinkMode _ = False
