{-# LANGUAGE CApiFFI #-}

-- | A worker must not outlive its server. A server that is killed (SIGKILL, a crash, the OOM killer) cannot
-- stop its workers, and its clients then run the real ghc on the same files: a worker that went on with its
-- compile would write the same .o and .hi files at the same time, or leave half-written ones behind. The
-- request loop only notices the end of its input between requests, so a thread checks every 100 ms, during
-- compiles too, and ends the worker and everything it started at once. (A Haskell thread gets to run
-- whenever the compile allocates, which GHC and splices do all the time; a check costs two system calls.)
--
-- The server counts as gone when either
--
--   * the request pipe has hung up (no process holds its write end any more): that is the channel itself
--     ending, whoever the worker's parent is (a wrapper script that runs ghc without exec stays alive, but
--     the pipe still closes), and it also catches a server that died before this thread started; or
--   * the parent process changed (the worker was re-parented): that still holds if the pipe's write end
--     has leaked into another process and so never hangs up.
--
-- PR_SET_PDEATHSIG is not used: Linux sends it when the thread that forked the worker exits, not the
-- process, so the worker's life would hang on which of Deno's threads happened to spawn it; it would
-- also reach only the worker, not the C compiler, assembler or iserv it runs; and set after exec, it
-- races with the parent's death anyway.
--
-- Everything the worker starts must go with it: an assembler or linker left running would write the very
-- outputs this is about. So the worker leads a process group of its own, which its children inherit, and the
-- group is killed with one kill(2): unlike walking /proc, that cannot miss a child being forked at that
-- moment (the kernel makes fork and a group signal atomic). A group of its own also keeps a terminal's
-- Ctrl-C, meant for a foreground server, away from compiles the server lets finish when it stops.
module Ghcpw.Parent (exitWithServer) where

import Control.Concurrent (forkIO, threadDelay)
import Control.Exception (SomeException, try)
import Control.Monad (void)
import Data.Bits ((.&.), (.|.))
import Foreign.C.Types (CInt (..), CShort (..), CULong (..))
import Foreign.Marshal.Alloc (allocaBytes)
import Foreign.Ptr (Ptr)
import Foreign.Storable (peekByteOff, pokeByteOff)
import System.Posix.IO (FdOption (CloseOnExec), dup, setFdOption, stdInput)
import System.Posix.Process (createProcessGroupFor, getParentProcessID, getProcessGroupID, getProcessID)
import System.Posix.Signals (sigKILL, signalProcess, signalProcessGroup)
import System.Posix.Types (Fd (..), ProcessGroupID)

-- | Starts the watch; call it first, while stdin is still the request pipe.
exitWithServer :: IO ()
exitWithServer = do
  parent <- getParentProcessID
  self <- getProcessID
  -- Fails only for a session leader, which leads its group already.
  void (try (createProcessGroupFor self) :: IO (Either SomeException ProcessGroupID))
  leader <- (== self) <$> getProcessGroupID
  channel <- dup stdInput
  setFdOption channel CloseOnExec True
  let gone = (||) <$> ((/= parent) <$> getParentProcessID) <*> hungUp channel
      loop = gone >>= \g -> if g then end else threadDelay 100000 >> loop
      end = if leader then signalProcessGroup sigKILL self else signalProcess sigKILL self
  void (forkIO loop)

foreign import capi unsafe "poll.h poll" c_poll :: Ptr () -> CULong -> CInt -> IO CInt
foreign import capi "poll.h value POLLHUP" pollHup :: CShort
foreign import capi "poll.h value POLLERR" pollErr :: CShort

-- | Whether nothing can ever be written to the pipe again. Asks for no events, so data waiting to be read
-- (the next request) does not count; the kernel reports a hang-up regardless.
hungUp :: Fd -> IO Bool
hungUp (Fd fd) = allocaBytes 8 $ \pfd -> do
  -- struct pollfd { int fd; short events; short revents; }
  pokeByteOff pfd 0 fd
  pokeByteOff pfd 4 (0 :: CShort)
  pokeByteOff pfd 6 (0 :: CShort)
  n <- c_poll pfd 1 0
  revents <- peekByteOff pfd 6 :: IO CShort
  pure (n > 0 && revents .&. (pollHup .|. pollErr) /= 0)
