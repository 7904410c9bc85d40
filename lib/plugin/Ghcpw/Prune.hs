-- | Pruning a kept set of interfaces after a request: only the interfaces of modules that may be kept
-- (units of immutable package databases, see Ghcpw.Warm) stay, and every table GHC derived from the
-- interfaces is filtered alike.
module Ghcpw.Prune (pruneStore, storeSize, storeUnits) where

import Control.Exception (SomeException, evaluate, try)
import Control.Monad (when)
import Data.IORef (IORef, readIORef, writeIORef)
import GHC.Core (isBuiltinRule, ru_origin)
import GHC.Core.FamInstEnv (emptyFamInstEnv, extendFamInstEnvList, famInstEnvElts)
import GHC.Core.InstEnv (instEnvElts, is_dfun_name)
import GHC.Types.Annotations (AnnEnv, AnnPayload)
import GHC.Types.Name (Name, nameModule_maybe)
import GHC.Types.Name.Env (NameEnv, delListFromNameEnv, mapNameEnv, mkNameEnv)
import GHC.Types.Unique.FM (minusUFM, nonDetEltsUFM, sizeUFM)
import GHC.Unit.Module.Env (ModuleEnv, emptyInstalledModuleEnv, filterModuleEnv, lookupModuleEnv, moduleEnvElts, moduleEnvKeys, moduleEnvToList)
import Unsafe.Coerce (unsafeCoerce)

import Ghcpw.Compat

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

-- | How many interfaces a store holds.
storeSize :: InterfaceStore -> IO Int
storeSize store = length . moduleEnvElts . eps_PIT <$> readIORef (storeRef store)

-- | The units whose interfaces a store holds.
storeUnits :: InterfaceStore -> IO [UnitId]
storeUnits store = map moduleUnitId . moduleEnvKeys . eps_PIT <$> readIORef (storeRef store)

-- | The interfaces of kept modules only, with every table derived from them filtered alike.
pruneInterfaces :: (Module -> Bool) -> [Name] -> CompleteMatchTable -> ExternalPackageState -> ExternalPackageState
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

-- | Evaluates the filtered tables all the way, so no thunk keeps the unfiltered ones alive (lazily
-- filtered tables built thunk chains that leaked ~150 KB per request on 9.10).
forceInterfaces :: ExternalPackageState -> IO ()
forceInterfaces eps = do
  _ <- evaluate (sizeUFM (eps_PTE eps))
  _ <- evaluate (length (instEnvElts (eps_inst_env eps)))
  _ <- evaluate (length (famInstEnvElts (eps_fam_inst_env eps)))
  _ <- evaluate (sum (map length (nonDetEltsUFM (eps_rule_base eps))))
  _ <- evaluate (length (completeMatchList (eps_complete_matches eps)))
  _ <- evaluate (length (moduleEnvElts (eps_PIT eps)))
  pure ()

-- | The COMPLETE pragmas of kept modules. Since 9.4 they hold ConLikes, type-checked lazily, and not
-- their module: so they are settled first, before the store is read for pruning, and whatever settling
-- them loads is pruned with the rest.
keptCompleteMatches :: (Module -> Bool) -> IORef ExternalPackageState -> IO CompleteMatchTable
keptCompleteMatches keep store = do
  settleCompleteMatches store
  filterCompleteMatchesM (keepCompleteMatch keep) . eps_complete_matches =<< readIORef store

-- | Evaluates every COMPLETE pragma of the store and the names of its constructors, until evaluating
-- them loads no more (each interface loaded appends its own). A pragma that fails to evaluate is left
-- failed; 'keepCompleteMatch' drops it.
settleCompleteMatches :: IORef ExternalPackageState -> IO ()
settleCompleteMatches store = go 0
  where
    go settled = do
      matches <- completeMatchList . eps_complete_matches <$> readIORef store
      mapM_ settle (drop settled matches)
      now <- length . completeMatchList . eps_complete_matches <$> readIORef store
      when (now > length matches) (go (length matches))
    settle m = try (evaluate (foldr (seq . nameModule_maybe) () (completeMatchNames m))) :: IO (Either SomeException ())

-- | Whether a (settled) COMPLETE pragma is about kept modules only. GHC rejects orphan COMPLETE pragmas,
-- and kept modules do not depend on dropped ones: so this keeps exactly the pragmas of kept modules.
keepCompleteMatch :: (Module -> Bool) -> CompleteMatch -> IO Bool
keepCompleteMatch keep m = do
  r <- try (evaluate (all (maybe False keep . nameModule_maybe) (completeMatchNames m))) :: IO (Either SomeException Bool)
  pure (either (const False) id r)

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
