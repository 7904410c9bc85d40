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
import Data.List (intercalate)
import qualified Data.Map as Map
import Data.Maybe (catMaybes)
import qualified Data.Set as Set
import GHC (Ghc, ModuleName, getModuleGraph, getModuleInfo, modInfoIface, moduleName, moduleNameString, ms_mod, ms_textual_imps)
import GHC.Types.SrcLoc (unLoc)
import System.IO.Unsafe (unsafePerformIO)

import Ghcpw.Compat

-- | The last successful @--make@ build's stale modules, until reported.
lastStale :: IORef (Maybe [String])
lastStale = unsafePerformIO (newIORef Nothing)
{-# NOINLINE lastStale #-}

-- | Notes the home modules of the session's finished build whose interfaces record a home module's hash
-- other than that module's interface now has. Only usages of modules a user imports through ordinary
-- imports (directly or not) count: a user compiled before the module itself (in an import cycle, through
-- a SOURCE import) was compiled against its hs-boot interface and records that one's hash.
noteStaleModules :: Ghc ()
noteStaleModules = do
  summaries <- filter (not . bootSummary) . mgModSummaries <$> getModuleGraph
  ifaces <- catMaybes <$> mapM (fmap (>>= modInfoIface) . getModuleInfo . ms_mod) summaries
  let imports = Map.fromList [(moduleName (ms_mod ms), map (unLoc . snd) (ms_textual_imps ms)) | ms <- summaries]
      hashes = Map.fromList [(moduleName (mi_module i), interfaceModuleHash i) | i <- ifaces]
      differs name hash = Map.lookup name hashes `notElem` [Nothing, Just hash]
      stale i =
        let user = moduleName (mi_module i)
         in any (\(name, hash) -> differs name hash && importsOf imports user name) (homeUsageHashes i)
  liftIO (writeIORef lastStale (Just [moduleNameString (moduleName (mi_module i)) | i <- ifaces, stale i]))

-- | Whether @user@ reaches @target@ through ordinary imports. A search per question, with the modules
-- seen, as a package-qualified import may name a home module's name and so close a loop.
importsOf :: Map.Map ModuleName [ModuleName] -> ModuleName -> ModuleName -> Bool
importsOf imports user target = go Set.empty (Map.findWithDefault [] user imports)
  where
    go _ [] = False
    go seen (m : rest)
      | m == target = True
      | m `Set.member` seen = go seen rest
      | otherwise = go (Set.insert m seen) (Map.findWithDefault [] m imports ++ rest)

-- | The @stale-modules@ fact (names separated by commas, as in @ran-code@) if a @--make@ build noted them
-- since the last call; a request without it (a failed build, another mode) leaves nothing known.
staleModulesFacts :: IO [(String, String)]
staleModulesFacts = do
  noted <- atomicModifyIORef' lastStale (\s -> (Nothing, s))
  pure [("stale-modules", intercalate "," names) | Just names <- [noted]]
