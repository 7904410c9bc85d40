-- | What a request may leave running after it has answered, and how the worker gets rid of it before the
-- next one. A cold ghc ends all of that by exiting; a worker ends it when the request ends:
--
--   * The external interpreter (-fexternal-interpreter), which GHC asks to exit at the end of a session
--     but never waits for: 'stopInterpreterProcess' waits, so no zombie is left per request.
module Ghcpw.Leftovers
  ( stopInterpreterProcess
  ) where

import Control.Exception (SomeException, try)
import System.Process (waitForProcess)
import System.Timeout (timeout)

import Ghcpw.Compat

-- | Stops the session's external interpreter and waits until it has exited (at most a few seconds).
stopInterpreterProcess :: HscEnv -> IO ()
stopInterpreterProcess hscEnv = do
  process <- interpreterProcess hscEnv
  -- An interpreter that died already makes GHC's request to exit fail; it is reaped all the same.
  _ <- try (stopInterpreter hscEnv) :: IO (Either SomeException ())
  mapM_ (\p -> timeout 5000000 (waitForProcess p)) process
