-- | The state a worker keeps between requests, and the rules that keep it correct.
--
-- What is kept is the server's choice ('Share', from @-ffrontend-opt share=...@, lib/share.ts); by
-- default everything below but loaded code (see Ghcpw.Code). Kept: the name cache (so interface loading
-- finds names already made), the loaded interfaces of units from immutable package databases (GHC's global
-- database and those the server declares immutable), one set per interface key (ways, whether interface
-- pragmas are ignored, the package database stack and the identity of its files), and the parsed package
-- databases with the unit state last computed from them (9.0, see Ghcpw.Compat.setSessionDynFlagsKeeping);
-- of the last two only the few most recently used (see 'maxInterfaceSets',
-- 'maxUnitDatabaseStacks'). Everything else is new in every request: home modules' interfaces, the
-- finder cache, the home package table, the linker (unless code is kept), flags, temporary files (see
-- Ghcpw.Driver, which starts each request from a fresh session and then resumes this state into it).
module Ghcpw.Warm
  ( Warm
  , Share (..)
  , parseShare
  , showShare
  , newWarm
  , warmFacts
  , reuseUnitDatabases
  , resumeInterfaces
  , lastResumed
  ) where

import Control.Monad (when)
import Control.Monad.IO.Class (liftIO)
import Data.List (intercalate, sortOn)
import Data.IORef
import qualified Data.Map.Strict as Map
import Data.Maybe (isJust)
import qualified Data.Set as Set
import GHC (Ghc, getSession, setSession)
import GHC.Driver.Session
import System.Directory (doesDirectoryExist, doesFileExist, getCurrentDirectory, getModificationTime, makeAbsolute)
import System.Environment (lookupEnv)
import System.FilePath ((</>))

import Ghcpw.Code (KeptCode, keptCodeUnits, newKeptCode, resumeCode)
import Ghcpw.Compat
import Ghcpw.Interfaces (interfaceKey)
import Ghcpw.Prune (pruneStore, storeSize, storeUnits)
import GHC.Unit.Types (unitIdString)

-- | What a worker keeps between requests. Without the name cache nothing that holds names (interfaces)
-- can be kept either, and the unique counter restarts at its start value for every request, as in a
-- cold ghc: that is what makes objects byte-identical to a cold ghc's (the server refuses interfaces
-- without names).
data Share = Share
  { shareNames :: Bool
  , shareDatabases :: Bool
  , shareInterfaces :: Bool
  , shareCode :: Bool
  }

-- | The value of the @share=@ option: @none@ or a comma-separated set of names, databases, interfaces,
-- code (the linker's state, see Ghcpw.Code).
parseShare :: String -> Either String Share
parseShare "none" = Right (Share False False False False)
parseShare text = foldr add (Right (Share False False False False)) (splitOn text)
  where
    add "names" s = (\x -> x {shareNames = True}) <$> s
    add "databases" s = (\x -> x {shareDatabases = True}) <$> s
    add "interfaces" s = (\x -> x {shareInterfaces = True}) <$> s
    add "code" s = (\x -> x {shareCode = True}) <$> s
    add other _ = Left ("unknown share element " ++ show other)
    splitOn s = case break (== ',') s of
      (w, []) -> [w]
      (w, _ : rest) -> w : splitOn rest

-- | The setting as the server writes it (lib/share.ts formatShare).
showShare :: Share -> String
showShare s = case [w | (w, True) <- elements] of
  [] -> "none"
  ws -> intercalate "," ws
  where
    elements =
      [ ("names", shareNames s)
      , ("databases", shareDatabases s)
      , ("interfaces", shareInterfaces s)
      , ("code", shareCode s)
      ]

-- | What a worker keeps; one per worker process.
data Warm = Warm
  { warmShare :: Share
  , warmImmutableDbs :: Set.Set FilePath
  , warmNames :: IORef (Maybe KeptNames)
  , warmInterfaces :: IORef (Recent InterfaceStore)
  , warmUnitDbs :: IORef (Recent ([String], UnitDatabases, Maybe KeptUnits))
  , warmResumed :: IORef Int
  , warmClock :: IORef Int
  , warmCode :: Maybe KeptCode
  }

-- | Interface sets kept at once, and the interfaces they may hold together: the least recently used sets
-- go first (never the one of the request that just ran). A set is tens of MB at -O0 and up to a few
-- hundred at -O2 (scripts/memory.ts); builds go package by package, and each package's own database
-- makes its own key, so sets of earlier keys are rarely met again.
maxInterfaceSets, maxKeptInterfaces :: Int
maxInterfaceSets = 2
maxKeptInterfaces = 500

-- | Parsed package database stacks kept at once (each holds every unit of the global database).
maxUnitDatabaseStacks :: Int
maxUnitDatabaseStacks = 8

-- | The state of a worker that keeps what the share setting allows (where this GHC keeps any state at
-- all, see 'keepsState') and may keep interfaces of units from the given immutable databases.
newWarm :: Share -> [FilePath] -> IO Warm
newWarm share immutable =
  Warm effective (Set.fromList immutable) <$> newIORef Nothing <*> newIORef Map.empty <*> newIORef Map.empty <*> newIORef 0
    <*> newIORef 0
    <*> (if shareCode effective then Just <$> newKeptCode else pure Nothing)
  where
    -- The linker's closure environment holds names (the server refuses code without names).
    effective
      | keepsState = share {shareCode = shareCode share && shareNames share}
      | otherwise = share {shareNames = False, shareInterfaces = False, shareCode = False}

-- | Kept values by key, each with the time it was last used (a counter), so the least recently used go first.
type Recent a = Map.Map String (Int, a)

-- | Uses (or adds) a value under a key: it becomes the most recently used.
touch :: Warm -> String -> a -> Recent a -> IO (Recent a)
touch warm key value recent = do
  now <- atomicModifyIORef' (warmClock warm) (\t -> (t + 1, t))
  pure (Map.insert key (now, value) recent)

-- | The keys other than 'current', least recently used first.
evictable :: String -> Recent a -> [String]
evictable current recent = map snd (sortOn fst [(t, k) | (k, (t, _)) <- Map.toList recent, k /= current])

-- | Drops the least recently used sets, never the current key's, while too many are kept or they hold too
-- many interfaces together.
evictInterfaceSets :: String -> Recent InterfaceStore -> IO (Recent InterfaceStore)
evictInterfaceSets current recent = do
  sizes <- mapM (storeSize . snd) recent
  let over m = Map.size m > maxInterfaceSets || sum (Map.intersection sizes m) > maxKeptInterfaces
      go m (k : ks) | over m = go (Map.delete k m) ks
      go m _ = m
  pure (go recent (evictable current recent))

-- | How many kept interfaces the last request started with (reported to the server for its statistics).
lastResumed :: Warm -> IO Int
lastResumed = readIORef . warmResumed

-- | What the worker holds now, for `ghcpw status`: its effective share setting, the number of kept
-- interface sets and interfaces, the packages whose interfaces those are, and the units whose code its
-- kept linker holds.
warmFacts :: Warm -> IO [(String, String)]
warmFacts warm = do
  sets <- map snd . Map.elems <$> readIORef (warmInterfaces warm)
  sizes <- mapM storeSize sets
  units <- Set.unions <$> mapM (fmap (Set.fromList . map unitIdString) . storeUnits) sets
  code <- maybe (pure []) keptCodeUnits (warmCode warm)
  pure
    [ ("share", showShare (warmShare warm))
    , ("interface-sets", show (length sets))
    , ("interfaces", show (sum sizes))
    , ("packages", intercalate "," (Set.toList units))
    , ("code-packages", intercalate "," (map unitIdString code))
    ]

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
-- database flags and environment, if none of the databases has changed since, and the unit state last
-- computed from them (see 'setSessionDynFlagsKeeping', which takes it only for the same package flags).
-- Returns the flags to set, the unit state, and the key under which to remember both afterwards.
reuseUnitDatabases :: Warm -> DynFlags -> IO (DynFlags, Maybe KeptUnits, String)
reuseUnitDatabases warm dflags | not (shareDatabases (warmShare warm)) = pure (dflags, Nothing, "")
reuseUnitDatabases warm dflags = do
  packagePath <- lookupEnv "GHC_PACKAGE_PATH"
  home <- lookupEnv "HOME"
  dbFlags <- packageDbFlagsKey dflags
  -- GHC_PACKAGE_PATH may name databases relative to the working directory too.
  cwd <- traverse (const getCurrentDirectory) packagePath
  let key = show (dbFlags, packagePath, home, cwd)
  cached <- fmap snd . Map.lookup key <$> readIORef (warmUnitDbs warm)
  case cached of
    Just (seen, dbs, units) -> do
      now <- stamps (unitDatabasePaths dbs)
      if now == seen
        then (\flags -> (flags, units, key)) <$> withUnitDatabases dbs dflags
        else pure (dflags, Nothing, key)
    Nothing -> pure (dflags, Nothing, key)

-- | After the flags are set: remembers the session's package databases, resumes the kept name cache, the
-- interfaces kept for this request's key and the kept linker (where it qualifies, see Ghcpw.Code), and
-- returns whether the name cache was already warm (then the unique supply must not be reseeded: kept
-- names hold uniques from it) and the action that saves what this request loaded, for the next one.
resumeInterfaces :: Warm -> String -> Ghc (Bool, Ghc ())
resumeInterfaces warm dbKey = do
  hscEnv <- getSession
  let dflags = hsc_dflags hscEnv
      dbs = sessionUnitDatabases hscEnv
  dbStamps <- liftIO (stamps (unitDatabasePaths dbs))
  when (shareDatabases share) $ liftIO $ do
    stacks <- touch warm dbKey (dbStamps, dbs, sessionKeptUnits hscEnv) =<< readIORef (warmUnitDbs warm)
    writeIORef (warmUnitDbs warm) (foldr Map.delete stacks (drop (maxUnitDatabaseStacks - 1) (reverse (evictable dbKey stacks))))
  if not (shareNames share) then pure (False, pure ()) else do
    let key = show (interfaceKey dflags, unitDatabasePaths dbs, dbStamps)
        immutable = Set.insert (globalPackageDatabasePath dflags) (warmImmutableDbs warm)
        keepUnits = Set.fromList (concatMap snd (filter ((`Set.member` immutable) . fst) (unitDatabaseContents hscEnv)))
        keep m = moduleUnitId m `Set.member` keepUnits
    names <- liftIO (readIORef (warmNames warm))
    kept <- if shareInterfaces share then liftIO (fmap snd . Map.lookup key <$> readIORef (warmInterfaces warm)) else pure Nothing
    liftIO (writeIORef (warmResumed warm) =<< maybe (pure 0) storeSize kept)
    setSession (resumeState names kept hscEnv)
    let located = Map.fromList [(u, (path, st)) | ((path, units), st) <- zip (unitDatabaseContents hscEnv) dbStamps, u <- units]
        origins = Map.map (\(path, st) -> path ++ " " ++ st) (Map.filter ((`Set.member` immutable) . fst) located)
    saveCode <- maybe (pure (pure ())) (`resumeCode` origins) (warmCode warm)
    let save = do
          now <- getSession
          liftIO $ do
            let (names', store) = takeState now
            writeIORef (warmNames warm) (Just names')
            when (shareInterfaces share) $ do
              pruneStore keep names' store
              sets <- touch warm key store =<< readIORef (warmInterfaces warm)
              writeIORef (warmInterfaces warm) =<< evictInterfaceSets key sets
    pure (isJust names, save >> saveCode)
  where
    share = warmShare warm

-- | The package database flags (-package-db, -no-user-package-db, ...) in a comparable form, with paths
-- made absolute (the worker runs in the request's directory): the same relative path in another working
-- directory names another database, even if its cache file has the same time stamp.
packageDbFlagsKey :: DynFlags -> IO String
packageDbFlagsKey = fmap show . mapM flag . packageDBFlags
  where
    flag (PackageDB GlobalPkgDb) = pure "global"
    flag (PackageDB UserPkgDb) = pure "user"
    flag (PackageDB (PkgDbPath p)) = ("db " ++) <$> makeAbsolute p
    flag NoUserPackageDB = pure "no-user"
    flag NoGlobalPackageDB = pure "no-global"
    flag ClearPackageDBs = pure "clear"

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
