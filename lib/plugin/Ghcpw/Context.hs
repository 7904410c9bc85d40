{-# LANGUAGE CApiFFI #-}

-- | What one request changes in the worker process, and how it is put back: environment, working
-- directory, locale and text encodings, the file-creation mask (umask), and fds 1 and 2, which point at
-- capture files in the request's temporary directory while it runs. The files are streamed to the server as they grow, so output of
-- any size (TH 'runIO', the C compiler, -ddump-*) reaches the client and never the channel itself.
module Ghcpw.Context
  ( Channel
  , openChannel
  , receive
  , send
  , RequestContext (..)
  , withRequestContext
  ) where

import Control.Concurrent (forkIO, threadDelay)
import Control.Concurrent.MVar
import Control.Exception (bracket, finally)
import Control.Monad (unless, void, when)
import qualified Data.ByteString as B
import Foreign.C.String (CString, peekCString, withCString)
import Foreign.C.Types (CInt (..))
import GHC.Foreign (peekCStringLen)
import GHC.HandleEncoding (configureHandleEncoding)
import GHC.IO.Encoding
import qualified GHC.IO.Encoding as Enc
import GHC.IO.Handle (hDuplicateTo)
import GHC.IO.Handle.FD (fdToHandle')
import System.FilePath ((</>))
import System.IO
import System.Posix.Directory.ByteString (changeWorkingDirectory, getWorkingDirectory)
import qualified System.Posix.Env.ByteString as PosixEnv
import System.Posix.Files (setFileCreationMask)
import System.Posix.IO
import System.Posix.Types (Fd (..), FileMode)

import Ghcpw.Frame

-- | The channel to the server: the worker's original stdin and stdout, moved to close-on-exec fds so
-- that neither GHC's own output nor any child process can write into it.
data Channel = Channel {chIn :: Handle, chOut :: Handle, chLock :: MVar (), chLog :: Fd}

openChannel :: IO Channel
openChannel = do
  hFlush stdout
  hFlush stderr
  inFd <- dup stdInput
  outFd <- dup stdOutput
  logFd <- dup stdError
  mapM_ (\fd -> setFdOption fd CloseOnExec True) [inFd, outFd, logFd]
  -- Children must see an empty stdin, not the server's requests.
  (r, w) <- createPipe
  closeFd w
  void (dupTo r stdInput)
  closeFd r
  -- Between requests, anything written to stdout lands in the worker's log, not the channel.
  void (dupTo logFd stdOutput)
  inH <- fdToHandle inFd
  outH <- fdToHandle outFd
  hSetBinaryMode inH True
  hSetBinaryMode outH True
  hSetBuffering outH (BlockBuffering Nothing)
  lock <- newMVar ()
  pure (Channel inH outH lock logFd)

receive :: Channel -> IO (Maybe (FrameType, B.ByteString))
receive = readFrame . chIn

-- | Sends one frame; safe to call from the streaming thread and the request thread at once.
send :: Channel -> FrameType -> [[B.ByteString]] -> IO ()
send ch t fields = withMVar (chLock ch) $ \_ -> writeFrame (chOut ch) t (encodeFields fields)

sendRaw :: Channel -> FrameType -> B.ByteString -> IO ()
sendRaw ch t bytes = withMVar (chLock ch) $ \_ -> writeFrame (chOut ch) t bytes

-- | The parts of a request that set up the process rather than the compile.
data RequestContext = RequestContext
  { rcCwd :: B.ByteString
  , rcTmpDir :: FilePath
  , rcEnv :: [(B.ByteString, B.ByteString)]
  , rcUmask :: FileMode
  }

-- | Runs an action with the request's environment, cwd, locale, umask and captured stdio, streaming the
-- captured output to the server. The action gets a decoder for the request's byte strings (argv), which
-- must use the request's file-system encoding exactly as a freshly started ghc's 'getArgs' would.
withRequestContext :: Channel -> RequestContext -> ((B.ByteString -> IO String) -> IO a) -> IO a
withRequestContext ch rc action =
  withEnvironment (rcEnv rc) $
    withWorkingDirectory (rcCwd rc) $
      withLocale $ \decode ->
        withCapturedStdio ch (rcTmpDir rc) (withUmask (rcUmask rc) (action decode))

withEnvironment :: [(B.ByteString, B.ByteString)] -> IO a -> IO a
withEnvironment env action = bracket PosixEnv.getEnvironment replaceEnv (\_ -> replaceEnv env >> action)
  where
    replaceEnv kvs = do
      PosixEnv.getEnvironment >>= mapM_ (PosixEnv.unsetEnv . fst)
      mapM_ (\(k, v) -> PosixEnv.setEnv k v True) kvs

-- | The client's umask for everything the request creates (outputs, GHC's temporary files, what the C
-- compiler writes), as a ghc started by the client would have it; the worker's own afterwards, whatever a
-- splice set meanwhile. Innermost, so the worker's capture files keep the modes it gives them.
withUmask :: FileMode -> IO a -> IO a
withUmask mask action = bracket (setFileCreationMask mask) (void . setFileCreationMask) (const action)

withWorkingDirectory :: B.ByteString -> IO a -> IO a
withWorkingDirectory dir action =
  bracket getWorkingDirectory changeWorkingDirectory (\_ -> changeWorkingDirectory dir >> action)

foreign import capi unsafe "locale.h setlocale" c_setlocale :: CInt -> CString -> IO CString
foreign import capi unsafe "langinfo.h nl_langinfo" c_nl_langinfo :: CInt -> IO CString
foreign import capi "locale.h value LC_CTYPE" lcCtype :: CInt
foreign import capi "langinfo.h value CODESET" codeset :: CInt

-- | Applies the request's LANG/LC_* as the RTS does at start-up (setlocale, then the codeset decides
-- the locale, file-system and foreign encodings), so text and file names behave as in a fresh ghc.
withLocale :: ((B.ByteString -> IO String) -> IO a) -> IO a
withLocale action = bracket save restore $ \_ -> do
  name <- withCString "" (c_setlocale lcCtype) >> (c_nl_langinfo codeset >>= peekCString)
  enc <- mkTextEncoding name
  fsEnc <- mkTextEncoding (name ++ "//ROUNDTRIP")
  setLocaleEncoding enc
  setFileSystemEncoding fsEnc
  setForeignEncoding fsEnc
  action (\b -> B.useAsCStringLen b (peekCStringLen fsEnc))
  where
    save = (,,) <$> getLocaleEncoding <*> getFileSystemEncoding <*> Enc.getForeignEncoding
    restore (l, f, g) = do
      void (withCString "" (c_setlocale lcCtype))
      setLocaleEncoding l
      setFileSystemEncoding f
      setForeignEncoding g

withCapturedStdio :: Channel -> FilePath -> IO a -> IO a
withCapturedStdio ch tmp action = do
  let outPath = tmp </> "ghcpw-stdout"
      errPath = tmp </> "ghcpw-stderr"
  bracket (redirect outPath errPath) (const restore) $ \_ -> do
    enc <- getLocaleEncoding
    mapM_ (\h -> hSetEncoding h enc >> hSetBuffering h LineBuffering) [stdout, stderr]
    configureHandleEncoding
    done <- newEmptyMVar
    finished <- newEmptyMVar
    _ <- forkIO (stream outPath errPath done `finally` putMVar finished ())
    (action <* (flushIfOpen stdout >> flushIfOpen stderr)) `finally` (putMVar done () >> takeMVar finished)
  where
    redirect outPath errPath = do
      hFlush stdout
      hFlush stderr
      outFd <- createFile outPath 0o600
      errFd <- createFile errPath 0o600
      void (dupTo outFd stdOutput)
      void (dupTo errFd stdError)
      closeFd outFd
      closeFd errFd
    restore = do
      flushIfOpen stdout `finally` flushIfOpen stderr
      reattach stdout stdOutput "<stdout>"
      reattach stderr stdError "<stderr>"
    -- Points fd 1 or 2 back at the worker's log; a Handle closed by the request is opened again there, under
    -- its own name, as a fresh process has it ('hDuplicateTo' takes the name of the Handle it copies). The
    -- fd is taken first, so the copy made for that lands on another one, which closing it then frees.
    reattach h fd name = do
      void (dupTo (chLog ch) fd)
      closed <- hIsClosed h
      when closed $ do
        Fd n <- dup (chLog ch)
        fresh <- fdToHandle' n Nothing False name WriteMode False
        hDuplicateTo fresh h
        hClose fresh
    stream outPath errPath done =
      withBinaryFile outPath ReadMode $ \outH ->
        withBinaryFile errPath ReadMode $ \errH -> do
          let pump h t = do
                chunk <- B.hGetSome h chunkBytes
                unless (B.null chunk) (sendRaw ch t chunk)
                pure (B.length chunk)
              loop = do
                finishing <- not <$> isEmptyMVar done
                n <- (+) <$> pump outH Stdout <*> pump errH Stderr
                -- 'finishing' was read before the pumps, so an empty read after it means fully drained.
                if n > 0 then loop else unless finishing (threadDelay 10000 >> loop)
          loop

-- | A splice may have closed stdout or stderr ('hClose' closes fd 1 or 2 as well), as it may in a ghc of its
-- own; that must not end the worker, nor reach the next request.
flushIfOpen :: Handle -> IO ()
flushIfOpen h = hIsClosed h >>= \closed -> unless closed (hFlush h)

chunkBytes :: Int
chunkBytes = 256 * 1024

