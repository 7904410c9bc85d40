{-# LANGUAGE CApiFFI #-}

-- | What one request changes in the worker process, and how it is put back: environment, working
-- directory, locale and text encodings, the file-creation mask (umask), and its standard streams
-- (Ghcpw.Stdio), whose output is forwarded to the server as it comes, so output of any size (TH 'runIO',
-- the C compiler, -ddump-*) reaches the client and never the channel itself.
module Ghcpw.Context
  ( Channel
  , openChannel
  , receive
  , send
  , RequestContext (..)
  , withRequestContext
  , Output (..)
  ) where

import Control.Concurrent.MVar
import Control.Exception (bracket)
import Control.Monad (void)
import qualified Data.ByteString as B
import Foreign.C.String (CString, peekCString, withCString)
import Foreign.C.Types (CInt (..))
import GHC.Foreign (peekCStringLen)
import GHC.IO.Encoding
import qualified GHC.IO.Encoding as Enc
import System.IO
import System.Posix.Directory.ByteString (changeWorkingDirectory, getWorkingDirectory)
import qualified System.Posix.Env.ByteString as PosixEnv
import System.Posix.Files (setFileCreationMask)
import System.Posix.IO
import System.Posix.Types (Fd, FileMode)

import Ghcpw.Frame
import Ghcpw.Stdio (Output (..), withRequestStdio)

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
  , rcEnv :: [(B.ByteString, B.ByteString)]
  , rcMergedOutput :: Bool
  -- ^ The client's stdout and stderr are one file: GHC's go into one stream, in the order written.
  , rcUmask :: FileMode
  }

-- | Runs an action with the request's environment, cwd, locale, umask and captured stdio, streaming the
-- captured output to the server. The action gets a decoder for the request's byte strings (argv), which
-- must use the request's file-system encoding exactly as a freshly started ghc's 'getArgs' would, and
-- control over the streaming of its output.
withRequestContext :: Channel -> RequestContext -> ((B.ByteString -> IO String) -> Output -> IO a) -> IO a
withRequestContext ch rc action =
  withEnvironment (rcEnv rc) $
    withWorkingDirectory (rcCwd rc) $
      withLocale $ \decode ->
        withRequestStdio (sendRaw ch) (chLog ch) (rcMergedOutput rc) (withUmask (rcUmask rc) . action decode)

withEnvironment :: [(B.ByteString, B.ByteString)] -> IO a -> IO a
withEnvironment env action = bracket PosixEnv.getEnvironment replaceEnv (\_ -> replaceEnv env >> action)
  where
    replaceEnv kvs = do
      PosixEnv.getEnvironment >>= mapM_ (PosixEnv.unsetEnv . fst)
      mapM_ (\(k, v) -> PosixEnv.setEnv k v True) kvs

-- | The client's umask for everything the request creates (outputs, GHC's temporary files, what the C
-- compiler writes), as a ghc started by the client would have it; the worker's own afterwards, whatever a
-- splice set meanwhile.
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
