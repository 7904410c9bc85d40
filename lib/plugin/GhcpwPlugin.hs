{-# LANGUAGE LambdaCase #-}
{-# LANGUAGE ScopedTypeVariables #-}

-- | ghcpw's frontend plugin: `ghc --frontend GhcpwPlugin` becomes a worker that serves GHC invocations
-- sent by the ghcpw server as frames on its stdin, answering on its stdout (see lib/pool/worker.ts).
module GhcpwPlugin (frontendPlugin) where

import Control.Exception (SomeException, displayException, try)
import qualified Data.ByteString as B
import qualified Data.ByteString.Char8 as B8
import Data.List (isPrefixOf)
import Numeric (readOct)
import System.Exit (ExitCode (..), exitWith)

import Ghcpw.Compat (FrontendPlugin, frontendWith, ghcVersion)
import Ghcpw.Context
import Ghcpw.Driver
import Ghcpw.Frame
import Ghcpw.Parent (exitWithServer)
import Ghcpw.Terminal (requestTerminal)
import Ghcpw.Warm (Warm, lastResumed, newWarm)

-- | Must equal WORKER_PROTOCOL_VERSION in lib/wire/worker_protocol.ts (checked by
-- tests/unit/plugin_contract_test.ts).
protocolVersion :: B.ByteString
protocolVersion = B8.pack "2"

frontendPlugin :: FrontendPlugin
frontendPlugin = frontendWith serve

-- | Options (-ffrontend-opt): @immutable-db=PATH@ for each package database whose units' interfaces
-- may be kept between requests besides GHC's global one.
serve :: [String] -> FilePath -> IO ()
serve opts libdir = do
  exitWithServer
  warm <- newWarm [drop (length "immutable-db=") o | o <- opts, "immutable-db=" `isPrefixOf` o]
  ch <- openChannel
  send ch Hello [[B8.pack "protocol=" <> protocolVersion, B8.pack ("ghc=" ++ ghcVersion)]]
  let loop = receive ch >>= \case
        Nothing -> pure ()
        Just (Request, payload) -> either (refuse ch) (serveOne ch warm libdir) (decodeFields payload) >> loop
        Just (other, _) -> refuse ch ("unexpected frame " ++ show other)
  loop

refuse :: Channel -> String -> IO ()
refuse ch why = do
  send ch Failure [[B8.pack why]]
  exitWith (ExitFailure 2)

-- | Fields of a worker request, in order: mode, cwd, temporary directory, argv, environment (KEY=VALUE),
-- whether the client's stderr is a terminal, the client's umask (octal).
serveOne :: Channel -> Warm -> FilePath -> [[B.ByteString]] -> IO ()
serveOne ch warm libdir [modeField, [cwd], [tmp], args, env, [tty], [umask]] =
  case (parseMode (map B8.unpack modeField), readOctal umask) of
    (Left why, _) -> refuse ch why
    (_, Nothing) -> refuse ch ("malformed umask " ++ show umask)
    (Right mode, Just mask) -> do
      let context = RequestContext cwd (B8.unpack tmp) (map splitEntry env) mask
      outcome <- try $ withRequestContext ch context $ \decode -> do
        argv <- mapM decode args
        terminal <- requestTerminal (tty == B8.pack "1")
        invoke warm libdir mode argv terminal
      case outcome of
        -- The request left the process in a state the worker cannot put back; it says so and ends.
        Left (e :: SomeException) -> refuse ch ("the request broke the worker: " ++ displayException e)
        Right (Exited code) -> do
          resumed <- lastResumed warm
          send ch Exit [[B8.pack (show code)], [B8.pack ("interfaces-resumed=" ++ show resumed)]]
        Right (Deferred why) -> send ch Defer [[B8.pack why]]
  where
    splitEntry e = let (k, v) = B8.break (== '=') e in (k, B.drop 1 v)
    readOctal t = case readOct (B8.unpack t) of
      [(n, "")] | not (B.null t) && n <= 0o777 -> Just (fromInteger n)
      _ -> Nothing
serveOne ch _ _ _ = refuse ch "malformed request"
