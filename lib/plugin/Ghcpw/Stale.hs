-- | Interfaces a @--make@ build kept although a cold build would write them differently. When a home
-- module's module hash changed, GHC's recompilation check compares only what a user of it used (and its
-- exports, for a direct import); if none of that changed, it skips the user and keeps its interface,
-- which still records the dependency's old module hash, where a cold build records the new one. Only a
-- skipped module can have such a usage. After a successful build the worker names these modules (the
-- @stale-modules@ fact of the Exit message, lib/wire/worker_protocol.ts), and an incremental build
-- (lib/incremental/stale.ts) removes their outputs and lets GHC compile them again.
module Ghcpw.Stale (noteStaleModules, staleModulesFacts) where

import Control.Monad.IO.Class (liftIO)
import Data.IORef
import qualified Data.Map as Map
import Data.Maybe (catMaybes)
import qualified Data.Set as Set
import GHC (Ghc, getModuleGraph, getModuleInfo, modInfoIface, moduleName, moduleNameString, ms_mod)
import System.IO.Unsafe (unsafePerformIO)

import Ghcpw.Compat

-- | The last successful @--make@ build's stale modules, until reported.
lastStale :: IORef (Maybe [String])
lastStale = unsafePerformIO (newIORef Nothing)
{-# NOINLINE lastStale #-}

-- | Notes the home modules of the session's finished build whose interfaces record a home module's hash
-- other than that module's interface now has.
noteStaleModules :: Ghc ()
noteStaleModules = do
  graph <- getModuleGraph
  let modules = Set.toList (Set.fromList (map ms_mod (mgModSummaries graph)))
  ifaces <- catMaybes <$> mapM (fmap (>>= modInfoIface) . getModuleInfo) modules
  let hashes = Map.fromList [(moduleName (mi_module i), interfaceModuleHash i) | i <- ifaces]
      stale i = or [Map.lookup name hashes `notElem` [Nothing, Just hash] | (name, hash) <- homeUsageHashes i]
  liftIO (writeIORef lastStale (Just [moduleNameString (moduleName (mi_module i)) | i <- ifaces, stale i]))

-- | The @stale-modules@ fact (names separated by spaces) if a @--make@ build noted them since the last
-- call; a request without it (a failed build, another mode) leaves nothing known.
staleModulesFacts :: IO [(String, String)]
staleModulesFacts = do
  noted <- atomicModifyIORef' lastStale (\s -> (Nothing, s))
  pure [("stale-modules", unwords names) | Just names <- [noted]]
