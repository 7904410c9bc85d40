-- | Which interfaces a compile may read: the set the worker keeps for the command line's interface key,
-- or, where that would read the wrong ones or write an interface that shows them, a set of its own,
-- loaded afresh as a cold ghc loads it.
--
-- Up to GHC 9.4 an interface records a package module as used only if that module's interface happens
-- to be loaded when its usages are computed ('usagesFollowLoadedInterfaces'): with kept interfaces, a
-- module's .hi would depend on what the worker compiled before. There, a compile that writes interfaces
-- gets interfaces of its own, except a one-shot compile of a single source, which the worker can watch
-- (see Ghcpw.Usages).
module Ghcpw.Interfaces
  ( interfaceKey
  , runOneShot
  , loadTargets
  ) where

import Control.Exception (SomeException, try)
import Control.Monad.Catch (finally)
import Control.Monad.IO.Class (liftIO)
import qualified Data.Set as Set
import GHC (Ghc, LoadHowMuch (..), getSession, load, setSession)
import GHC.Driver.Monad (modifySession)
import GHC.Driver.Phases (Phase, isHaskellSigFilename, isHaskellishTarget)
import GHC.Driver.Plugins (Plugin)
import GHC.Driver.Session
import GHC.Types.Basic (SuccessFlag)

import Ghcpw.Compat
import Ghcpw.Context (Output)
import Ghcpw.Usages (observable, observedOneShot)

-- | What decides which interface files (and which of their contents) a compile loads.
interfaceKey :: DynFlags -> String
interfaceKey dflags =
  show (Set.toList (ways dflags), gopt Opt_IgnoreInterfacePragmas dflags, gopt Opt_BuildDynamicToo dflags)

-- | ghc's one-shot mode, with the interfaces 'oneShotInterfaces' chooses.
runOneShot :: Output -> HscEnv -> Stop -> [(String, Maybe Phase)] -> IO ()
runOneShot output hscEnv stop srcs = do
  choice <- oneShotInterfaces hscEnv srcs
  case choice of
    Kept -> compile hscEnv
    Fresh -> compile =<< freshInterfaces hscEnv
    Observed install -> observedOneShot output install hscEnv compile
  where
    compile env = oneShotTo env stop srcs

data Choice = Kept | Fresh | Observed (Plugin -> HscEnv -> HscEnv)

-- | The interfaces resumed into the session were kept under the interface key of the command line's
-- flags; a source whose OPTIONS_GHC pragmas change that key (say {-# OPTIONS_GHC -O2 #-} in a -O0 build,
-- which must read interfaces with their unfoldings) is compiled with interfaces of its own, and the kept
-- ones stay as they were. The pragmas are read the way GHC's pipeline reads them before compiling (from
-- the source as it is, before any CPP); a source GHC cannot read them from is left to GHC to report.
-- Where usages follow loaded interfaces, Haskell sources are compiled with interfaces of their own unless
-- there is just one, a module (not a Backpack signature, whose instantiation GHC type-checks without
-- plugins), and its compile can be watched.
oneShotInterfaces :: HscEnv -> [(String, Maybe Phase)] -> IO Choice
oneShotInterfaces hscEnv srcs = do
  let haskell = [file | src@(file, _) <- srcs, isHaskellishTarget src]
  flags <- mapM fileFlagsIfReadable haskell
  let sameKey = all (== interfaceKey (hsc_dflags hscEnv)) [interfaceKey d | Just d <- flags]
  pure $ case (flags, addStaticPlugin) of
    _ | not sameKey -> Fresh
    _ | not usagesFollowLoadedInterfaces || null haskell -> Kept
    ([Just d], Just install) | [(file, Nothing)] <- srcs, not (isHaskellSigFilename file), observable d -> Observed install
    _ -> Fresh
  where
    fileFlagsIfReadable file = either (const Nothing) Just <$> (try (fileFlags hscEnv file) :: IO (Either SomeException DynFlags))

-- | --make's load of all targets. As in 'oneShotInterfaces', a module whose own OPTIONS_GHC change the
-- interface key must not read the interfaces kept for the command line's key: if any module of the build
-- has such pragmas, the whole build gets interfaces of its own, and the kept ones are put back afterwards.
-- The modules are found by GHC's own downsweep; its summaries are left in the session, where load reuses
-- them (re-reading only sources changed since). At -v2 and above that early downsweep would show its work
-- out of ghc's order, so there the build always gets interfaces of its own; so it does where interfaces
-- record which others happened to be loaded.
loadTargets :: Ghc SuccessFlag
loadTargets = do
  hscEnv <- getSession
  let dflags = hsc_dflags hscEnv
  sameKey <-
    if verbosity dflags >= 2 || usagesFollowLoadedInterfaces
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
