-- | Interfaces of home modules kept between one-shot requests (the share element @home-interfaces@).
--
-- A one-shot compile reads the interface of each home module it needs from disk; a kept one is only
-- right for a request if that request would read the very same file with the very same content. So each
-- kept home interface is recorded with the file GHC's finder found for it (and, with -dynamic-too, the
-- .dyn_hi beside it, which GHC reads too) and the files' content hashes, and before every request each
-- record is checked against the request's own finder and the files as they are now ('validHomeModules').
--
-- Declarations read from an interface are type-checked lazily, later, with the session of the request
-- that read them: its finder, flags and search path. If such a declaration needed a home module that is
-- not in the store, that old session would find and read it, perhaps not where the current request
-- would. So a home interface is kept only together with every home module it depends on, transitively
-- (then no kept declaration ever reads a home interface from disk), and dropping one drops everything
-- that depends on it. Modules with boot interfaces, or depending on any, are never kept: which of a
-- module's two interfaces a compile reads depends on the compile (and its declarations may have been
-- type-checked against a boot interface's abstract types).
module Ghcpw.HomeInterfaces
  ( HomeFiles
  , noHomeFiles
  , homeFileCount
  , homeModules
  , validHomeModules
  , recordHomeModules
  ) where

import Control.Monad (filterM)
import qualified Data.Map.Strict as Map
import Data.Maybe (catMaybes)
import Data.Time.Clock.POSIX (POSIXTime)
import GHC.Driver.Session
import GHC.Fingerprint (Fingerprint, getFileHash)
import GHC.Unit.Module.Env (ModuleEnv, moduleEnvToList)
import GHC (mkModuleName, moduleNameString)
import GHC.Unit.Types (moduleName)
import System.Directory (doesFileExist, makeAbsolute)
import System.Posix.Files (getFileStatus, statusChangeTimeHiRes)

import Ghcpw.Compat

-- | A kept home module: its unit and name, and the files its interface was read from (absolute paths)
-- with their content hashes (Nothing: absent, as a .dyn_hi may be), and the home modules it depends on.
data HomeRecord = HomeRecord {recordFiles :: [(FilePath, Maybe Fingerprint)], recordDeps :: [ModuleName]}

-- | The kept home modules of one interface store, by unit and module name.
newtype HomeFiles = HomeFiles (Map.Map (UnitId, String) HomeRecord)

noHomeFiles :: HomeFiles
noHomeFiles = HomeFiles Map.empty

homeFileCount :: HomeFiles -> Int
homeFileCount (HomeFiles m) = Map.size m

-- | Whether a module is among the kept home modules.
homeModules :: HomeFiles -> Module -> Bool
homeModules (HomeFiles m) md = (moduleUnitId md, moduleNameString (moduleName md)) `Map.member` m

-- | How long before a request's start a file must have last changed for what GHC read of it during the
-- request to be taken for what is on disk after it: file times come from a coarse kernel clock (a tick
-- or two behind), and a file written while the request ran may have been read before or after the write.
settled :: POSIXTime
settled = 0.1

-- | The records still right for this request: the session's own home unit, a one-shot compile, the
-- same interface file found by the session's finder (with a cache of its own, so the compile finds
-- modules as a cold ghc does), no boot interface beside it, the same contents; then of those only the
-- ones whose home dependencies all are, too.
validHomeModules :: HscEnv -> HomeFiles -> IO HomeFiles
validHomeModules session (HomeFiles records)
  | Map.null records = pure noHomeFiles
  | ghcMode (hsc_dflags session) /= OneShot = pure noHomeFiles
  | otherwise = do
      hscEnv <- withFreshFinder session
      ok <- filterM (valid hscEnv) (Map.toList records)
      pure (closed (Map.fromList ok))
  where
    home = sessionHomeUnit session
    valid hscEnv ((unit, name), record)
      | unit /= home = pure False
      | otherwise = do
          now <- interfaceFiles hscEnv (mkModuleName name)
          case now of
            Just files | map fst files == map fst (recordFiles record) -> (== recordFiles record) <$> hashFiles files
            _ -> pure False

-- | After a request: the records of the home interfaces to keep from the store's interface table, given
-- the records the request started with (already checked) and the time it started. Newly read ones are
-- recorded with their files' contents now, unless a file changed since shortly before the request; their
-- files are the ones the request's own finder found, that is, those GHC read.
recordHomeModules :: HscEnv -> POSIXTime -> HomeFiles -> ModuleEnv ModIface -> IO HomeFiles
recordHomeModules hscEnv started (HomeFiles resumed) pit
  | ghcMode (hsc_dflags hscEnv) /= OneShot = pure noHomeFiles
  | otherwise = closed . Map.fromList . catMaybes <$> mapM record homeIfaces
  where
    home = sessionHomeUnit hscEnv
    homeIfaces = [(moduleNameString (moduleName m), iface) | (m, iface) <- moduleEnvToList pit, moduleUnitId m == home]
    record (name, iface)
      | Just r <- Map.lookup (home, name) resumed = pure (Just ((home, name), r))
      | interfaceTouchesBoot iface = pure Nothing
      | otherwise = do
          found <- interfaceFiles hscEnv (moduleName (mi_module iface))
          case found of
            Nothing -> pure Nothing
            Just files -> do
              fresh <- and <$> mapM (\(path, present) -> if present then changedBefore path else pure True) files
              if not fresh
                then pure Nothing
                else do
                  hashes <- hashFiles files
                  pure (Just ((home, name), HomeRecord hashes (interfaceHomeDeps iface)))
    changedBefore path = (< started - settled) . statusChangeTimeHiRes <$> getFileStatus path

-- | Files with the hashes of their contents (Nothing for an absent one).
hashFiles :: [(FilePath, Bool)] -> IO [(FilePath, Maybe Fingerprint)]
hashFiles = mapM (\(path, present) -> (,) path <$> if present then Just <$> getFileHash path else pure Nothing)

-- | The records whose home dependencies all have records too, transitively.
closed :: Map.Map (UnitId, String) HomeRecord -> HomeFiles
closed records
  | Map.size kept == Map.size records = HomeFiles records
  | otherwise = closed kept
  where
    kept = Map.filterWithKey (\(unit, _) r -> all (\d -> (unit, moduleNameString d) `Map.member` records) (recordDeps r)) records

-- | The interface files a one-shot compile of this session reads for a home module, with whether each is
-- present: the one GHC's finder finds (Nothing if it finds none, or a boot interface lies beside it), and
-- with -dynamic-too the .dyn_hi beside it, which GHC compares with it.
interfaceFiles :: HscEnv -> ModuleName -> IO (Maybe [(FilePath, Bool)])
interfaceFiles hscEnv name = do
  found <- homeInterfaceFile hscEnv name
  case found of
    Nothing -> pure Nothing
    Just (relative, dynRelative) -> do
      hi <- makeAbsolute relative
      present <- doesFileExist hi
      boot <- doesFileExist (hi ++ "-boot")
      dyn <- mapM makeAbsolute [dynRelative | gopt Opt_BuildDynamicToo (hsc_dflags hscEnv)]
      dynPresent <- mapM doesFileExist dyn
      pure (if present && not boot then Just ((hi, True) : zip dyn dynPresent) else Nothing)
