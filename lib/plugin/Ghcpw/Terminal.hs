{-# LANGUAGE CPP #-}
{-# LANGUAGE ScopedTypeVariables #-}

-- | What a freshly started ghc would find out about its terminal, decided per request from the client's
-- environment and whether the client's stderr is a terminal (the worker's own stderr never is).
module Ghcpw.Terminal (requestTerminal) where

import GHC.Foreign (peekCStringLen, withCStringLen)
import GHC.IO.Encoding (getLocaleEncoding)
import System.Environment (lookupEnv)
import System.IO.Error (catchIOError)

import Ghcpw.Compat (ColourTest (..), Terminal (..), colourTest)

#if defined(MIN_VERSION_terminfo)
import Control.Exception (catch)
import System.Console.Terminfo (SetupTermError, getCapability, setupTermFromEnv, termColors)
#endif

-- | Unicode quotes if the locale encodes them and GHC_NO_UNICODE is unset; colours if the client's
-- stderr is a terminal that takes them by the test of this GHC (see 'colourTest'), as ghc decides at
-- start-up. The request's environment (TERM) is in place when this runs.
requestTerminal :: Bool -> IO Terminal
requestTerminal stderrTty = do
  enc <- getLocaleEncoding
  let quotes = "\x2018\x2019"
  encodes <- withCStringLen enc quotes (fmap (== quotes) . peekCStringLen enc) `catchIOError` \_ -> pure False
  noUnicode <- lookupEnv "GHC_NO_UNICODE"
  colours <- if stderrTty then terminalHasColours else pure False
  pure (Terminal (encodes && noUnicode == Nothing) colours)

terminalHasColours :: IO Bool
terminalHasColours = case colourTest of
  ColourUnlessDumbTerm -> (/= Just "dumb") <$> lookupEnv "TERM"
  ColourFromTerminfo -> terminfoHasColours

-- | Without terminfo in the plugin (it is linked in only when the ghc library uses it), ghc had no colours.
terminfoHasColours :: IO Bool
#if defined(MIN_VERSION_terminfo)
terminfoHasColours =
  (maybe False (> 0) . (`getCapability` termColors) <$> setupTermFromEnv)
    `catch` \(_ :: SetupTermError) -> pure False
#else
terminfoHasColours = pure False
#endif
