-- | Kept interfaces for a one-shot compile on GHCs whose interfaces record a package module as used only
-- if its interface happens to be loaded (up to 9.4; see Ghcpw.Compat.usagesFollowLoadedInterfaces).
--
-- A cold ghc loads a module's interface when the compile first needs something of it: a name's
-- declaration missing from the type environment, or the interface itself (imports, fixities, instances).
-- A warm worker already holds the interfaces earlier requests loaded, so it never sees those needs; yet
-- the usages GHC records are the used or imported modules whose interfaces are loaded. So the compile
-- runs against a view of the kept interfaces that notes each one it touches: every kept declaration and
-- every kept interface is reached through a thunk that records its module when forced. A module noted
-- so, or imported, or loaded by this compile itself, is one a cold ghc has loaded as well (it would have
-- loaded it at that very step). Once the module is type-checked, the used modules GHC will record are
-- known (its used names); if every kept one among them is such a module, the usages equal a cold ghc's.
-- Otherwise (a module reached only through a kept declaration's already-checked parts, or one whose names
-- the module only re-exports) nobody can tell what a cold ghc would have loaded, and the compile runs
-- again with interfaces of its own, its output so far discarded.
module Ghcpw.Usages (observable, observedOneShot) where

import Control.Exception (Exception, finally, throwIO, try)
import Control.Monad (unless)
import Control.Monad.IO.Class (liftIO)
import Data.IORef
import qualified Data.IntSet as IntSet
import qualified GHC.LanguageExtensions as LangExt
import GHC.Driver.Plugins (Plugin (..), defaultPlugin, purePlugin)
import GHC.Driver.Session
import GHC.Tc.Types (ImportAvails (..), TcGblEnv (..))
import GHC.Types.Name (isWiredInName, nameModule_maybe)
import GHC.Types.Name.Set (allUses)
import GHC.Types.Unique (getKey, getUnique)
import GHC.Types.Unique.FM (mapUFM_Directly, minusUFM, plusUFM)
import GHC.Types.Unique.Set (nonDetEltsUniqSet)
import GHC.Unit.Module.Env
  ( ModuleSet
  , elemModuleEnv
  , elemModuleSet
  , extendModuleSet
  , emptyModuleSet
  , filterModuleEnv
  , lookupModuleEnv
  , mkModuleEnv
  , mkModuleSet
  , moduleEnvKeys
  , moduleEnvToList
  , moduleSetElts
  , plusModuleEnv
  )
import System.IO.Unsafe (unsafePerformIO)

import Ghcpw.Compat
import Ghcpw.Context (Output (..))

-- | Whether a source's flags allow observing its compile: nothing in it may run user code whose effects a
-- second run would repeat (Template Haskell, quasi-quotes, plugins), and plugins other than the
-- observer's own would also make GHC's Safe Haskell verdict depend on it.
observable :: DynFlags -> Bool
observable dflags =
  not (xopt LangExt.TemplateHaskell dflags || xopt LangExt.QuasiQuotes dflags)
    && null (pluginModNames dflags)

data Rerun = Rerun deriving (Show)

instance Exception Rerun

-- | What the view noted, and what it started from.
data Observation = Observation
  { obsKept :: ModuleSet
  , obsModules :: IORef ModuleSet
  , obsNames :: IORef IntSet.IntSet
  }

-- | Runs a one-shot compile of one Haskell source against the observing view of the session's kept
-- interfaces ('addStaticPlugin' installs the check), and again with interfaces of its own if its usages
-- cannot be told equal to a cold ghc's. The session's store holds the kept interfaces again afterwards,
-- with whatever the compile loaded.
observedOneShot :: Output -> (Plugin -> HscEnv -> HscEnv) -> HscEnv -> (HscEnv -> IO ()) -> IO ()
observedOneShot output install hscEnv compile = do
  let (names, store) = takeState hscEnv
      ref = storeRef store
  original <- readIORef ref
  obs <- Observation (mkModuleSet (moduleEnvKeys (eps_PIT original))) <$> newIORef emptyModuleSet <*> newIORef IntSet.empty
  writeIORef ref (observingView obs original)
  let observed = install (checker output obs names) hscEnv {hsc_dflags = gopt_set (hsc_dflags hscEnv) Opt_PluginTrustworthy}
  holdOutput output
  r <- try (compile observed `finally` (modifyIORef' ref (restore original) >> forget obs))
  case r of
    Right () -> releaseOutput output
    Left Rerun -> do
      discardHeldOutput output
      releaseOutput output
      compile =<< freshInterfaces hscEnv

-- | Empties the notes. Thunks of the view that declarations read during the compile still hold are
-- forced later, if ever, into these sets: they must not keep a request's notes alive.
forget :: Observation -> IO ()
forget obs = writeIORef (obsModules obs) emptyModuleSet >> writeIORef (obsNames obs) IntSet.empty

-- | The kept interfaces, each declaration and interface behind a thunk that notes it when forced.
observingView :: Observation -> ExternalPackageState -> ExternalPackageState
observingView obs eps =
  eps
    { eps_PTE = mapUFM_Directly (\u thing -> noting (obsNames obs) (IntSet.insert (fromIntegral (getKey u))) thing) (eps_PTE eps)
    , eps_PIT = mkModuleEnv [(m, noting (obsModules obs) (`extendModuleSet` m) iface) | (m, iface) <- moduleEnvToList (eps_PIT eps)]
    }

-- | The value, once the note has been made.
noting :: IORef a -> (a -> a) -> b -> b
noting ref note x = unsafePerformIO (x <$ atomicModifyIORef' ref (\s -> (note s, ())))
{-# NOINLINE noting #-}

-- | The store as it is after the compile, with the kept declarations and interfaces themselves again in
-- place of their observing thunks.
restore :: ExternalPackageState -> ExternalPackageState -> ExternalPackageState
restore original now =
  now
    { eps_PTE = plusUFM (minusUFM (eps_PTE now) (eps_PTE original)) (eps_PTE original)
    , eps_PIT = plusModuleEnv (eps_PIT original) (filterModuleEnv (\m _ -> not (elemModuleEnv m (eps_PIT original))) (eps_PIT now))
    }

-- | The plugin that decides, once each module is parsed and once it is type-checked, whether the
-- compile goes on against the view. The first check sees the flags after CPP: a module that turns out
-- to run Template Haskell or plugins must not run them twice.
checker :: Output -> Observation -> KeptNames -> Plugin
checker output obs names =
  defaultPlugin
    { parsedResultAction = \_ summary parsed -> parsed <$ liftIO (unless (watchable (ms_hspp_opts summary)) (throwIO Rerun))
    , typeCheckResultAction = \_ _ tcg -> tcg <$ liftIO (checkUsages tcg)
    , pluginRecompile = purePlugin
    }
  where
    watchable dflags = observable dflags && gopt Opt_PluginTrustworthy dflags
    checkUsages tcg = do
      unseen <- unobservedUsages obs names tcg
      if null unseen then releaseOutput output else throwIO Rerun

-- | The kept modules among those GHC will record as used (the modules of the used names other than
-- wired-in ones) of which a cold ghc may not have loaded the interface: not imported (directly, or as an
-- orphan module that imports load), and not noted by the view.
unobservedUsages :: Observation -> KeptNames -> TcGblEnv -> IO [Module]
unobservedUsages obs names tcg = do
  modules <- readIORef (obsModules obs)
  noted <- readIORef (obsNames obs)
  cache <- cachedNames names
  let imports = tcg_imports tcg
      loaded = mkModuleSet (moduleEnvKeys (imp_mods imports) ++ imp_orphs imports)
      used = mkModuleSet [m | n <- nonDetEltsUniqSet (allUses (tcg_dus tcg)), not (isWiredInName n), Just m <- [nameModule_maybe n]]
      seen m =
        m `elemModuleSet` modules
          || any ((`IntSet.member` noted) . fromIntegral . getKey . getUnique) (maybe [] occNames (lookupModuleEnv cache m))
  pure [m | m <- moduleSetElts used, m `elemModuleSet` obsKept obs, not (m `elemModuleSet` loaded), not (seen m)]
