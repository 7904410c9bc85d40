-- | The state a worker keeps between requests, and the rules that keep it correct.
--
-- Kept: the name cache (so interface loading finds names already made), the loaded interfaces of units
-- from immutable package databases (GHC's global database and those the server declares immutable), one
-- set per interface key (ways, whether interface pragmas are ignored, the package database stack and the
-- identity of its files), and the parsed package databases. Everything else is new in every request:
-- the finder cache, the home package table, the linker, flags, temporary files (see Ghcpw.Driver, which
-- starts each request from a fresh session and then resumes this state into it).
module Ghcpw.Warm
  ( Warm
  , newWarm
  , reuseUnitDatabases
  , resumeInterfaces
  , lastResumed
  ) where

import Control.Monad.IO.Class (liftIO)
import Data.IORef
import qualified Data.Map.Strict as Map
import Data.Maybe (isJust)
import qualified Data.Set as Set
import GHC (Ghc, getSession, setSession)
import GHC.Driver.Session
import System.Directory (doesDirectoryExist, doesFileExist, getModificationTime)
import System.Environment (lookupEnv)
import System.FilePath ((</>))

import Ghcpw.Compat
import Ghcpw.Interfaces (interfaceKey)
import Ghcpw.Prune (pruneStore, storeSize)

-- | What a worker keeps; one per worker process.
data Warm = Warm
  { warmImmutableDbs :: Set.Set FilePath
  , warmNames :: IORef (Maybe KeptNames)
  , warmInterfaces :: IORef (Map.Map String InterfaceStore)
  , warmUnitDbs :: IORef (Map.Map String ([String], UnitDatabases))
  , warmResumed :: IORef Int
  }

-- | Interface sets kept at once: each is tens of MB, and a build rarely alternates between more keys.
maxInterfaceSets :: Int
maxInterfaceSets = 6

newWarm :: [FilePath] -> IO Warm
newWarm immutable =
  Warm (Set.fromList immutable) <$> newIORef Nothing <*> newIORef Map.empty <*> newIORef Map.empty <*> newIORef 0

-- | How many kept interfaces the last request started with (reported to the server for its statistics).
lastResumed :: Warm -> IO Int
lastResumed = readIORef . warmResumed

-- | The identity of each package database GHC would read: the modification time of its cache file.
stamps :: [FilePath] -> IO [String]
stamps = mapM stamp
  where
    stamp db = do
      isDir <- doesDirectoryExist db
      let file = if isDir then db </> "package.cache" else db
      present <- doesFileExist file
      if present then show <$> getModificationTime file else pure "missing"

-- | Before the flags are set: reuses the parsed package databases of an earlier request with the same
-- database flags and environment, if none of the databases has changed since. Returns the flags to set
-- and the key under which to remember the databases afterwards.
reuseUnitDatabases :: Warm -> DynFlags -> IO (DynFlags, String)
reuseUnitDatabases warm dflags = do
  env <- mapM lookupEnv ["GHC_PACKAGE_PATH", "HOME"]
  let key = show (packageDbFlagsKey dflags, env)
  cached <- Map.lookup key <$> readIORef (warmUnitDbs warm)
  case cached of
    Just (seen, dbs) -> do
      now <- stamps (unitDatabasePaths dbs)
      flags <- if now == seen then withUnitDatabases dbs dflags else pure dflags
      pure (flags, key)
    Nothing -> pure (dflags, key)

-- | After the flags are set: remembers the session's package databases, resumes the kept name cache and
-- the interfaces kept for this request's key, and returns whether the name cache was already warm (then
-- the unique supply must not be reseeded: kept names hold uniques from it) and the action that saves
-- what this request loaded, for the next one.
resumeInterfaces :: Warm -> String -> Ghc (Bool, Ghc ())
resumeInterfaces warm dbKey = do
  hscEnv <- getSession
  let dflags = hsc_dflags hscEnv
      dbs = sessionUnitDatabases hscEnv
  dbStamps <- liftIO (stamps (unitDatabasePaths dbs))
  liftIO (modifyIORef' (warmUnitDbs warm) (Map.insert dbKey (dbStamps, dbs)))
  if not keepsState then pure (False, pure ()) else do
    let key = show (interfaceKey dflags, unitDatabasePaths dbs, dbStamps)
        immutable = Set.insert (globalPackageDatabasePath dflags) (warmImmutableDbs warm)
        keepUnits = Set.fromList (concatMap snd (filter ((`Set.member` immutable) . fst) (unitDatabaseContents hscEnv)))
        keep m = moduleUnitId m `Set.member` keepUnits
    names <- liftIO (readIORef (warmNames warm))
    kept <- liftIO (Map.lookup key <$> readIORef (warmInterfaces warm))
    liftIO (writeIORef (warmResumed warm) =<< maybe (pure 0) storeSize kept)
    setSession (resumeState names kept hscEnv)
    let save = do
          now <- getSession
          liftIO $ do
            let (names', store) = takeState now
            writeIORef (warmNames warm) (Just names')
            pruneStore keep names' store
            modifyIORef' (warmInterfaces warm) $ \m ->
              let m' = Map.insert key store m
                  evict = take 1 [k | k <- Map.keys m', k /= key]
               in if Map.size m' > maxInterfaceSets then foldr Map.delete m' evict else m'
    pure (isJust names, save)

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

-- | Each of the session's databases with the ids its units have in modules: wired-in units (base,
-- ghc-prim, ...) are known by their wired-in ids. The unit being compiled is never among them, even if a
-- database has a unit of the same id (its interfaces are the request's own).
unitDatabaseContents :: HscEnv -> [(FilePath, [UnitId])]
unitDatabaseContents hscEnv =
  [ (path, [u | unit <- units, unit /= home, let u = wiredUnitId hscEnv unit, u /= home])
  | (path, units) <- databaseUnits (sessionUnitDatabases hscEnv)
  ]
  where
    home = sessionHomeUnit hscEnv
