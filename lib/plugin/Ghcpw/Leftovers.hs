{-# LANGUAGE CApiFFI #-}

-- | What a request may leave running after it has answered, and how the worker gets rid of it before the
-- next one. Splices and plugins run arbitrary code inside the worker: a thread they fork goes on running
-- (printing into whatever fds 1 and 2 are then, which is a later request's output), and a process they
-- start in the background outlives them. A cold ghc ends all of that by exiting; a worker ends it when
-- the request ends:
--
--   * Threads the request started that are still running are killed, where the RTS can list them (GHC
--     9.6 and later). Where they cannot be killed (a thread that masks exceptions, or a GHC before 9.6,
--     whose RTS can only count threads), the worker reports that it must be replaced, and the server
--     replaces it before it serves again.
--   * Processes: the worker reaps orphans among its descendants ('adoptOrphans'), so every process a
--     request started is the worker's child afterwards, even one whose parent exited or that left the
--     worker's process group or session: each is killed and reaped.
--   * The external interpreter (-fexternal-interpreter), which GHC asks to exit at the end of a session
--     but never waits for: 'stopInterpreterProcess' waits, so no zombie is left per request.
--
-- A request that changed the number of capabilities is reported too: that is process-wide state (GHC's
-- own -j puts it back).
module Ghcpw.Leftovers
  ( adoptOrphans
  , watchLeftovers
  , stopInterpreterProcess
  ) where

import Control.Concurrent (ThreadId, forkIO, killThread, threadDelay)
import Control.Exception (AsyncException (ThreadKilled), SomeException, throwTo, try)
import Control.Monad (filterM, void)
import qualified Data.ByteString.Char8 as B8
import Data.Maybe (mapMaybe)
import qualified Data.Set as Set
import Foreign.C.Types (CInt (..), CULong (..))
import GHC.Conc (ThreadStatus (..), getNumCapabilities, threadStatus)
import System.Directory (doesFileExist, listDirectory)
import System.Mem (performMajorGC)
import System.Posix.Process (getProcessID, getProcessStatus)
import System.Posix.Signals (sigKILL, signalProcess)
import System.Posix.Types (ProcessID)
import System.Process (waitForProcess)
import System.Timeout (timeout)

import Ghcpw.Compat

foreign import capi unsafe "sys/prctl.h prctl" c_prctl :: CInt -> CULong -> CULong -> CULong -> CULong -> IO CInt
foreign import capi "sys/prctl.h value PR_SET_CHILD_SUBREAPER" prSetChildSubreaper :: CInt

-- | Makes the worker the reaper of its orphaned descendants (Linux's PR_SET_CHILD_SUBREAPER): a process
-- whose parent exits is re-parented to the worker instead of init. Call once at start-up.
adoptOrphans :: IO ()
adoptOrphans = void (c_prctl prSetChildSubreaper 1 0 0 0)

-- | Call right before a request; run the returned action right after it. That action stops what the
-- request left running (see the module header) and returns why the worker must be replaced, if it must.
watchLeftovers :: IO (IO [String])
watchLeftovers = do
  capabilities <- getNumCapabilities
  before <- liveThreads
  pure $ do
    now <- getNumCapabilities
    threads <-
      if now /= capabilities
        then pure ["the request changed the number of capabilities from " ++ show capabilities ++ " to " ++ show now]
        else stopThreads before
    processes <- stopProcesses
    pure (threads ++ processes)

-- | Threads the request started that are still running.
data Started = Started [ThreadId] | StartedCount Int | Unknowable

startedSince :: Maybe LiveThreads -> IO Started
startedSince before = do
  now <- liveThreads
  pure $ case (before, now) of
    (Just (ThreadsKnown old), Just (ThreadsKnown new)) -> let seen = Set.fromList old in Started (filter (`Set.notMember` seen) new)
    (Just (ThreadsCounted old), Just (ThreadsCounted new)) -> StartedCount (new - old)
    _ -> Unknowable

-- | Threads that end by themselves within a moment are left to end: a batch of finalizers the garbage
-- collector started must not be cut short, or what they were to free or close stays open.
stopThreads :: Maybe LiveThreads -> IO [String]
stopThreads before = do
  settled <- settle
  case settled of
    Started [] -> pure []
    Started threads -> kill (3 :: Int) threads
    StartedCount n | n <= 0 -> pure []
    StartedCount _ -> do
      -- Threads blocked for good (on an MVar or STM no one else can reach) end when a major collection
      -- hands them their exception: those are not running anything.
      performMajorGC
      afterGc <- settle
      pure $ case afterGc of
        StartedCount n | n > 0 -> ["leftover threads still running: " ++ show n]
        _ -> []
    Unknowable -> pure ["the threads the request started cannot be told apart from the worker's own"]
  where
    settle = pollFor 50000 done (startedSince before)
    done (Started ts) = null ts
    done (StartedCount n) = n <= 0
    done Unknowable = True
    -- Asynchronously, so that a thread that masks exceptions cannot hold the worker up.
    kill rounds threads = do
      throwers <- mapM (\t -> forkIO (throwTo t ThreadKilled)) threads
      stubborn <- pollFor 200000 null (filterM running threads)
      mapM_ killThread throwers
      if not (null stubborn)
        then pure ["leftover threads that ignore being killed: " ++ show (length stubborn)]
        else do
          -- A thread may start another as it dies.
          next <- settle
          case next of
            Started more@(_ : _) | rounds > 1 -> kill (rounds - 1) more
            Started more@(_ : _) -> pure ["leftover threads that keep starting others: " ++ show (length more)]
            _ -> pure []
    running t = (\s -> case s of ThreadFinished -> False; ThreadDied -> False; _ -> True) <$> threadStatus t

-- | Kills and reaps every child of the worker (all of them started by the request: GHC waits for its
-- own), until there are none; a process that does not go (stuck in the kernel) is reported.
stopProcesses :: IO [String]
stopProcesses = go (100 :: Int)
  where
    go rounds = do
      pids <- children
      if null pids
        then pure []
        else
          if rounds == 0
            then pure ["leftover processes that cannot be stopped: " ++ show (length pids)]
            else do
              mapM_ (attempt . signalProcess sigKILL) pids
              threadDelay 1000
              -- Killing a child re-parents its own children to the worker: the next round gets them.
              mapM_ (attempt . void . getProcessStatus False False) pids
              go (rounds - 1)
    attempt :: IO () -> IO ()
    attempt action = void (try action :: IO (Either SomeException ()))

-- | The worker's children, from each of its threads' list in /proc (a child belongs to the thread that
-- forked it, an adopted orphan to one of them); without those lists (a kernel built without them), from
-- the parent of every process.
children :: IO [ProcessID]
children = do
  tasks <- listDirectory "/proc/self/task"
  lists <- mapM (\t -> readNumbers ("/proc/self/task/" ++ t ++ "/children")) tasks
  if all (== Nothing) lists && not (null tasks) then byParent else pure (concat (mapMaybe id lists))
  where
    readNumbers path = do
      present <- doesFileExist path
      if present then either (const (Just [])) (Just . numbers) <$> tryRead path else pure Nothing
    numbers = mapMaybe (fmap (fromIntegral . fst) . B8.readInt) . B8.words
    tryRead path = try (B8.readFile path) :: IO (Either SomeException B8.ByteString)
    byParent = do
      self <- getProcessID
      pids <- mapMaybe (fmap fst . B8.readInt . B8.pack) <$> listDirectory "/proc"
      parents <- mapM (\p -> fmap ((,) p) <$> tryRead ("/proc/" ++ show p ++ "/stat")) pids
      pure [fromIntegral p | Right (p, stat) <- parents, parentOf stat == Just (fromIntegral self)]
    -- The fourth field of /proc/PID/stat, counted after the command name, which may hold anything but
    -- ends at the last ')'.
    parentOf stat = case B8.words (snd (B8.breakEnd (== ')') stat)) of
      _state : ppid : _ -> fst <$> B8.readInt ppid
      _ -> Nothing

-- | Runs an action until its result satisfies 'done' or 'micros' have passed; returns the last result.
pollFor :: Int -> (a -> Bool) -> IO a -> IO a
pollFor micros done action = go micros
  where
    step = 2000
    go left = do
      r <- action
      if done r || left <= 0 then pure r else threadDelay step >> go (left - step)

-- | Stops the session's external interpreter and waits until it has exited. One that does not exit within
-- a few seconds is left to 'watchLeftovers', which kills it with the request's other processes.
stopInterpreterProcess :: HscEnv -> IO ()
stopInterpreterProcess hscEnv = do
  process <- interpreterProcess hscEnv
  -- An interpreter that died already makes GHC's request to exit fail; it is reaped all the same.
  _ <- try (stopInterpreter hscEnv) :: IO (Either SomeException ())
  mapM_ (\p -> timeout 5000000 (waitForProcess p)) process
