-- | Loaded code kept between requests (@share=...,code@): the linker of the internal interpreter, holding
-- the packages it loaded when it started, so that the next Template Haskell compile does not locate and
-- load them again (on a dynamically linked GHC that includes running the C compiler to find the C
-- libraries some packages need, such as gmp).
--
-- What a kept linker holds must be what a new one would hold at the same point, or splices run other code
-- and, since GHC 9.4, interfaces list the loaded libraries in another order. So after each request the
-- linker forgets all home code (objects, byte code, the temporary libraries it linked them into) and every
-- package loaded after it started, keeping exactly what starting loaded: the preloaded units and their
-- dependencies. The next request resumes it only if a new linker would start the same way: the same
-- preloaded units in the same order, the same command-line libraries and library paths, and every kept
-- unit is, in that request's unit state, the same unit of the same immutable package database (same path,
-- same cache file). Otherwise the request starts a new linker, which is kept in its place if it qualifies.
-- Below -v2 only: a starting linker reports the packages it loads at -v2 and above.
--
-- A package library rebuilt in place stays stale in the process whatever its linker (dlopen caches by
-- path); the server replaces such a worker (lib/pool/loaded_libraries.ts).
module Ghcpw.Code
  ( KeptCode
  , newKeptCode
  , resumeCode
  , keptCodeUnits
  ) where

import Control.Exception (SomeException, try)
import Control.Monad.IO.Class (liftIO)
import Data.IORef
import qualified Data.Map.Strict as Map
import Data.Maybe (fromMaybe, isJust)
import qualified Data.Set as Set
import GHC (Ghc, getSession)
import GHC.Driver.Monad (modifySession)
import GHC.Driver.Session (verbosity)
import GHC.Unit.Types (rtsUnitId, unitIdString)
import System.Environment (lookupEnv)

import Ghcpw.Compat

-- | The kept linker and what it depends on.
data Kept = Kept
  { keptLoader :: Loader
  , keptStart :: String
  , keptOrigins :: [(UnitId, String)]
  }

-- | The worker's kept linker, if any.
newtype KeptCode = KeptCode (IORef (Maybe Kept))

newKeptCode :: IO KeptCode
newKeptCode = KeptCode <$> newIORef Nothing

-- | The units whose code the kept linker holds (for `ghcpw status`).
keptCodeUnits :: KeptCode -> IO [UnitId]
keptCodeUnits (KeptCode ref) = readIORef ref >>= maybe (pure []) (fmap (fromMaybe []) . loaderUnits . keptLoader)

-- | After the flags are set: gives the session the kept linker where it qualifies, and returns the action
-- that keeps the session's linker for the next request. @origins@ identifies each unit of the request's
-- package databases that comes from an immutable one: the database's path and the identity of its files.
resumeCode :: KeptCode -> Map.Map UnitId String -> Ghc (Ghc ())
resumeCode (KeptCode ref) origins = do
  hscEnv <- getSession
  start <- liftIO (startKey hscEnv)
  let quietEnough = verbosity (hsc_dflags hscEnv) < 2
      sameUnit (u, origin) = Map.lookup u origins == Just origin && isJust (unitDependencies hscEnv u)
      usable k = quietEnough && keptStart k == start && all sameUnit (keptOrigins k)
  case sessionLoader hscEnv of
    Nothing -> pure (pure ())
    Just _ -> do
      kept <- liftIO (readIORef ref)
      case kept of
        Just k | usable k -> modifySession (withSessionLoader (keptLoader k))
        _ -> pure ()
      pure (getSession >>= liftIO . keep start)
  where
    keep start hscEnv = case sessionLoader hscEnv of
      Nothing -> pure ()
      Just loader -> do
        started <- isJust <$> loaderUnits loader
        if not started
          then pure ()
          else do
            r <- try (trimmed hscEnv loader)
            writeIORef ref $ case r :: Either SomeException (Maybe [UnitId]) of
              Right (Just units) | Just found <- mapM (\u -> (,) u <$> Map.lookup u origins) units -> Just (Kept loader start found)
              _ -> Nothing
    trimmed hscEnv loader = do
      unloadHomeCode hscEnv loader
      keepLoaderUnits (`Set.member` startUnits hscEnv) loader
      loaderUnits loader

-- | The units a new linker loads when it starts: the runtime system's, and the preloaded units with all
-- their dependencies.
startUnits :: HscEnv -> Set.Set UnitId
startUnits hscEnv = go (Set.singleton rtsUnitId) (preloadUnitIds hscEnv)
  where
    go seen [] = seen
    go seen (u : us)
      | u `Set.member` seen = go seen us
      | otherwise = go (Set.insert u seen) (fromMaybe [] (unitDependencies hscEnv u) ++ us)

-- | What decides how a new linker starts, besides the units' databases.
startKey :: HscEnv -> IO String
startKey hscEnv = do
  env <- mapM lookupEnv ["LIBRARY_PATH", "LD_LIBRARY_PATH"]
  pure (show (map unitIdString (preloadUnitIds hscEnv), linkerStartFlags (hsc_dflags hscEnv), env))
