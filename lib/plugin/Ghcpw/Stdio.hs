{-# LANGUAGE CApiFFI #-}

-- | A request's standard streams. While a request runs, fds 1 and 2 are the write ends of pipes, which
-- GHC and everything it starts (the C compiler, the assembler, a splice's 'runIO' and its children)
-- inherit; a thread per pipe forwards what arrives to the server as output frames. Pipes rather than
-- files: output of any size passes through without taking space anywhere, and a client that reads slowly
-- slows GHC down (a full pipe blocks the writer) instead of piling GHC's output up on disk.
--
-- A request ends when GHC is done, not when the pipes close: a process the request started may hold a
-- write end for longer (a daemon forked by a splice). So at the end the worker flushes its handles,
-- points fds 1 and 2 back at its log (closing its own write ends), and forwards exactly what the pipes
-- hold at that moment; whatever comes later is read and dropped until the last writer closes, so that it
-- never blocks on a full pipe.
--
-- A splice may close stdout or stderr ('hClose' closes fd 1 or 2 as well), as it may in a ghc of its own;
-- that must neither end the worker nor reach the next request: a closed handle is not flushed, and at the
-- end it is opened again on the worker's log.
--
-- stdin is /dev/null, afresh for every request: what build tools give ghc, and so a splice that reads it
-- gets end of file at once and never waits. The client's own stdin is not forwarded: the client cannot
-- know whether a splice will read it, and reading it ahead would take input meant for the commands after
-- it (a build script's @while read@ loop). Afresh, because a splice that read it to the end (or closed
-- it) leaves the process's stdin handle closed, and the next request's splice would fail on it.
module Ghcpw.Stdio (withRequestStdio, Output (..)) where

import Control.Concurrent (forkIO, threadDelay, threadWaitRead)
import Control.Concurrent.MVar
import Control.Exception (SomeException, finally, try)
import Control.Monad (unless, void, when)
import Data.Maybe (fromMaybe)
import qualified Data.ByteString as B
import Foreign.C.Error (eAGAIN, eINTR, eWOULDBLOCK, getErrno, throwErrno, throwErrnoIfMinus1_)
import Foreign.C.Types (CInt (..), CSize (..), CULong (..))
import Foreign.Marshal.Alloc (alloca, allocaBytes)
import Foreign.Ptr (Ptr, castPtr)
import Foreign.Storable (peek)
import GHC.Conc (TVar, atomically, newTVarIO, orElse, readTVar, readTVarIO, retry, threadWaitReadSTM, writeTVar)
import GHC.HandleEncoding (configureHandleEncoding)
import GHC.IO.Encoding (getLocaleEncoding)
import qualified GHC.IO.FD as FD
import GHC.IO.Handle.Internals (mkHandle)
import GHC.IO.Handle.Types (Handle (..), HandleType (..))
import System.IO
import System.Posix.IO
import System.Posix.Types (CSsize (..), Fd (..))

import Ghcpw.Frame (FrameType (..))

-- | Control over the output a request writes: a part of the compile that may have to be run again writes
-- its output held back, so that a second run's output can replace the first's rather than follow it.
data Output = Output
  { holdOutput :: IO ()
  -- ^ What is written from now on stays unsent until released or discarded.
  , releaseOutput :: IO ()
  -- ^ Sends what was held, and streams again.
  , discardHeldOutput :: IO ()
  -- ^ Forgets what was written since the hold, which goes on.
  }

-- | Runs a request's action with fds 1 and 2 captured: each into a pipe of its own, or, when the client's
-- stdout and stderr are one file (@merged@), both into one pipe, forwarded as 'Stdout': one pipe keeps the
-- order in which GHC and its children wrote to either. @sendChunk@ sends one frame; @logFd@ is where fds
-- 1 and 2 point between requests.
withRequestStdio :: (FrameType -> B.ByteString -> IO ()) -> Fd -> Bool -> (Output -> IO a) -> IO a
withRequestStdio sendChunk logFd merged action = do
  resetStdin
  flushHandles
  finishing <- newTVarIO False
  -- While output is held: the chunks read since, newest first.
  gate <- newMVar Nothing
  let dispatch t b = modifyMVar_ gate $ \held -> case held of
        Nothing -> sendChunk t b >> pure Nothing
        Just chunks -> pure (Just ((t, b) : chunks))
      streams
        | merged = [([stdOutput, stdError], Stdout)]
        | otherwise = [([stdOutput], Stdout), ([stdError], Stderr)]
  pipes <- mapM (\(targets, t) -> do
    r <- pipeOnto targets
    lock <- newMVar ()
    drained <- forwardPipe (dispatch t) lock finishing r
    pure (r, lock, drained)) streams
  let -- Sets the gate once everything written so far has passed it: the handles flushed, the pipes empty
      -- and no chunk between a pipe and the gate (a forwarder reads and dispatches under its lock).
      settle change = do
        flushHandles
        let attempt [] = do
              n <- sum <$> mapM (\(r, _, _) -> bytesWaiting r) pipes
              when (n == 0) (modifyMVar_ gate (pure . change))
              pure (n == 0)
            attempt ((_, lock, _) : rest) = withMVar lock (\_ -> attempt rest)
            loop = attempt pipes >>= \done -> unless done (threadDelay 1000 >> loop)
        loop
      release = modifyMVar_ gate $ \held -> mapM_ (uncurry sendChunk) (reverse (fromMaybe [] held)) >> pure Nothing
      output = Output (settle (Just . fromMaybe [])) release (settle (fmap (const [])))
      -- Even if a flush fails, the forwarding threads must be done before the request's Exit goes out.
      finish =
        (flushHandles `finally` (mapM_ (dupTo logFd) [stdOutput, stdError] >> reviveHandles))
          `finally` (atomically (writeTVar finishing True) >> mapM_ (\(_, _, d) -> takeMVar d) pipes)
          `finally` release
  (configureHandles >> action output <* flushHandles) `finally` finish

-- | Points fd 0 and the stdin handle at /dev/null. A splice that read stdin to its end closed both, and
-- /dev/null may then open as fd 0 itself: closing it afterwards would leave fd 0 to the next descriptor
-- opened (a capture pipe), so it is moved into place at the descriptor level first.
resetStdin :: IO ()
resetStdin = do
  devNull <- openFile "/dev/null" ReadMode >>= handleToFd
  unless (devNull == stdInput) (void (dupTo devNull stdInput) >> closeFd devNull)
  reopenStdHandle stdin FD.stdin ReadHandle

-- | Flushes stdout and stderr, except one that a splice closed.
flushHandles :: IO ()
flushHandles = flushIfOpen stdout `finally` flushIfOpen stderr
  where
    flushIfOpen h = hIsClosed h >>= \closed -> unless closed (hFlush h)

-- | Opens a stdout or stderr handle that a splice closed again, on fd 1 or 2 (pointed back at the worker's
-- log first).
reviveHandles :: IO ()
reviveHandles = mapM_ revive [(stdout, FD.stdout), (stderr, FD.stderr)]
  where
    revive (h, fd) = hIsClosed h >>= \closed -> when closed (reopenStdHandle h fd WriteHandle)

-- | Makes a standard handle a fresh one on its own fd, in place, as the runtime makes it at start-up. Not
-- 'hDuplicateTo', which leaves a finalizer behind on an emptied MVar: the finalizer thread blocks on it
-- until a later collection, and the worker would count it as a thread the request left running.
reopenStdHandle :: Handle -> FD.FD -> HandleType -> IO ()
reopenStdHandle (FileHandle name target) fd kind = do
  enc <- getLocaleEncoding
  FileHandle _ fresh <- mkHandle fd name kind True (Just enc) nativeNewlineMode Nothing Nothing
  takeMVar fresh >>= void . swapMVar target
reopenStdHandle h _ _ = ioError (userError ("ghcpw: " ++ show h ++ " is not a standard handle"))

-- | The handles as ghc's Main sets them up: line-buffered, in the request's locale encoding.
configureHandles :: IO ()
configureHandles = do
  enc <- getLocaleEncoding
  mapM_ (\h -> hSetEncoding h enc >> hSetBuffering h LineBuffering) [stdout, stderr]
  configureHandleEncoding

-- | A new pipe whose write end replaces each of @targets@; returns its read end, which no child inherits.
pipeOnto :: [Fd] -> IO Fd
pipeOnto targets = do
  (r, w) <- createPipe
  setFdOption r CloseOnExec True
  setFdOption r NonBlockingRead True
  mapM_ (dupTo w) targets
  closeFd w
  pure r

-- | Forwards a pipe's contents in a thread of its own until the pipe ends or, once @finishing@ is set,
-- until what it held then has gone out; the returned MVar is filled then (also if sending failed).
forwardPipe :: (B.ByteString -> IO ()) -> MVar () -> TVar Bool -> Fd -> IO (MVar ())
forwardPipe sendChunk lock finishing fd = do
  drained <- newEmptyMVar
  let forward = do
        done <- readTVarIO finishing
        if done
          then bytesWaiting fd >>= forwardAtMost
          else readAndSend chunkBytes >>= \r -> case r of
            Bytes _ -> forward
            End -> pure True
            Empty -> waitReadable >> forward
      forwardAtMost n
        | n <= 0 = pure False
        | otherwise = readAndSend (min n chunkBytes) >>= \r -> case r of
            Bytes b -> forwardAtMost (n - B.length b)
            End -> pure True
            Empty -> pure False
      -- Under the lock: what was read has been dispatched before anyone sees the pipe empty.
      readAndSend n = withMVar lock $ \_ -> do
        r <- readSome fd n
        case r of
          Bytes b -> sendChunk b
          _ -> pure ()
        pure r
      waitReadable = do
        (readable, unregister) <- threadWaitReadSTM fd
        atomically (readable `orElse` (readTVar finishing >>= \d -> if d then pure () else retry)) `finally` unregister
      dropRest = readSome fd chunkBytes >>= \r -> case r of
        Bytes _ -> dropRest
        Empty -> threadWaitRead fd >> dropRest
        End -> pure ()
  _ <- forkIO $ do
    ended <- try forward :: IO (Either SomeException Bool)
    putMVar drained ()
    case ended of
      Right False -> void (try dropRest :: IO (Either SomeException ())) `finally` closeFd fd
      -- A pipe can end before the request does (a splice closed stdout or stderr): its read end stays
      -- open until the request finishes, as holding output still asks it how much it holds.
      _ -> atomically (readTVar finishing >>= \done -> unless done retry) `finally` closeFd fd
  pure drained

data ReadResult = Bytes B.ByteString | Empty | End

foreign import capi unsafe "unistd.h read" c_read :: CInt -> Ptr () -> CSize -> IO CSsize
foreign import capi unsafe "sys/ioctl.h ioctl" c_ioctl :: CInt -> CULong -> Ptr CInt -> IO CInt
foreign import capi "sys/ioctl.h value FIONREAD" fionread :: CULong

-- | One read from the non-blocking read end: up to @n@ bytes, 'Empty' if none are waiting, 'End' once no
-- process holds a write end any more.
readSome :: Fd -> Int -> IO ReadResult
readSome (Fd fd) n = allocaBytes n go
  where
    go buf = do
      got <- c_read fd buf (fromIntegral n)
      if got > 0
        then Bytes <$> B.packCStringLen (castPtr buf, fromIntegral got)
        else
          if got == 0
            then pure End
            else do
              errno <- getErrno
              if errno == eINTR
                then go buf
                else
                  if errno == eAGAIN || errno == eWOULDBLOCK
                    then pure Empty
                    else throwErrno "ghcpw: reading GHC's output"

-- | How many bytes the pipe holds now.
bytesWaiting :: Fd -> IO Int
bytesWaiting (Fd fd) = alloca $ \p -> do
  throwErrnoIfMinus1_ "ghcpw: FIONREAD" (c_ioctl fd fionread p)
  fromIntegral <$> peek p

chunkBytes :: Int
chunkBytes = 256 * 1024
