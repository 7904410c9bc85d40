{-# LANGUAGE LambdaCase #-}
{-# LANGUAGE ScopedTypeVariables #-}

-- | ghcpw's frontend plugin: `ghc --frontend GhcpwPlugin` becomes a worker that serves GHC invocations
-- sent by the ghcpw server as frames on its stdin, answering on its stdout (see lib/pool/worker.ts).
module GhcpwPlugin (frontendPlugin) where

import Control.Exception (SomeException, displayException, try)
import qualified Data.ByteString as B
import qualified Data.ByteString.Builder as Builder
import qualified Data.ByteString.Char8 as B8
import qualified Data.ByteString.Lazy as BL
import Data.List (intercalate, isPrefixOf)
import Control.Monad.IO.Class (liftIO)
import GHC (getSessionDynFlags)
import GHC.Driver.Plugins (FrontendPlugin (..), defaultFrontendPlugin)
import GHC.Driver.Session (topDir)
import GHC.Settings.Config (cProjectVersion)
import Numeric (readOct)
import System.Exit (ExitCode (..), exitWith)

import Ghcpw.Compat (readInstallation, Installation)
import Ghcpw.Context
import Ghcpw.Driver
import Ghcpw.Frame
import Ghcpw.Leftovers (adoptOrphans, watchLeftovers)
import Ghcpw.Memory (Heap, newHeap)
import Ghcpw.Parent (exitWithServer)
import Ghcpw.Stages (Stage (Finish), finishRequest, startRequest, switchStage)
import Ghcpw.Terminal (requestTerminal)
import Ghcpw.Facts (requestFacts)
import Ghcpw.RanCode (startRanCode)
import Ghcpw.Warm (Warm, newWarm, parseShare, showShare)

-- | Must equal WORKER_PROTOCOL_VERSION in lib/wire/worker_protocol.ts (checked by
-- tests/unit/plugin_contract_test.ts).
protocolVersion :: B.ByteString
protocolVersion = B8.pack "3"

-- | The frontend action gets its -ffrontend-opt options and the libdir of the GHC it runs in.
frontendPlugin :: FrontendPlugin
frontendPlugin = defaultFrontendPlugin {frontend = \opts _ -> getSessionDynFlags >>= liftIO . serve opts . topDir}

-- | Options (-ffrontend-opt): @immutable-db=PATH@ for each package database whose units' interfaces
-- may be kept between requests besides GHC's global one; @share=LIST@, what to keep (the last one counts;
-- without one, everything).
serve :: [String] -> FilePath -> IO ()
serve opts libdir = do
  exitWithServer
  adoptOrphans
  ch <- openChannel
  share <- either (refuse ch) pure (parseShare (last ("names,databases,interfaces" : optionValues "share=")))
  warm <- newWarm share (optionValues "immutable-db=")
  heap <- newHeap
  installation <- readInstallation libdir
  send ch Hello [[B8.pack "protocol=" <> protocolVersion, B8.pack ("ghc=" ++ cProjectVersion), B8.pack ("share=" ++ showShare share)]]
  let loop = receive ch >>= \case
        Nothing -> pure ()
        Just (Request, payload) -> either (refuse ch) (serveOne ch warm heap installation) (decodeFields payload) >> loop
        Just (other, _) -> refuse ch ("unexpected frame " ++ show other)
  loop

  where
    optionValues prefix = [drop (length prefix) o | o <- opts, prefix `isPrefixOf` o]

refuse :: Channel -> String -> IO a
refuse ch why = do
  send ch Failure [[B8.pack why]]
  exitWith (ExitFailure 2)

-- | Fields of a worker request, in order: mode, cwd, temporary directory (the server's; GHC has it as
-- -tmpdir in argv), argv, environment (KEY=VALUE), whether the client's stderr is a terminal, whether its
-- stdout and stderr are one file, the client's umask (octal).
serveOne :: Channel -> Warm -> Heap -> Installation -> [[B.ByteString]] -> IO ()
serveOne ch warm heap installation [modeField, [cwd], [tmp], args, env, [tty], [merged], [umask]] =
  case (parseMode (map B8.unpack modeField), readOctal umask) of
    (Left why, _) -> refuse ch why
    (_, Nothing) -> refuse ch ("malformed umask " ++ show umask)
    (Right mode, Just mask) -> do
      startRequest
      startRanCode
      stopLeftovers <- watchLeftovers
      let context = RequestContext cwd (map splitEntry env) (merged == B8.pack "1") mask
      outcome <- try $ withRequestContext ch context $ \decode output -> do
        argv <- mapM decode args
        terminal <- requestTerminal (tty == B8.pack "1")
        invoke warm installation (B8.unpack tmp) output mode argv terminal <* switchStage Finish
      stages <- finishRequest
      case outcome of
        -- The request left the process in a state the worker cannot put back; it says so and ends.
        Left (e :: SomeException) -> refuse ch ("the request broke the worker: " ++ displayException e)
        Right (Exited code) -> do
          leftovers <- stopLeftovers
          facts <- requestFacts warm heap
          send ch Exit
            [ [B8.pack (show code)]
            , map utf8 ([k ++ "=" ++ v | (k, v) <- facts] ++ stages)
                ++ [utf8 ("leftovers=" ++ intercalate "; " leftovers) | not (null leftovers)]
            ]
        -- A request is deferred before its session runs anything of its own, so it leaves nothing.
        Right (Deferred why) -> send ch Defer [[B8.pack why]]
  where
    -- In UTF-8, as the server reads them: a fact may name a module or a file (Ghcpw.Sources).
    utf8 = BL.toStrict . Builder.toLazyByteString . Builder.stringUtf8
    splitEntry e = let (k, v) = B8.break (== '=') e in (k, B.drop 1 v)
    readOctal t = case readOct (B8.unpack t) of
      [(n, "")] | not (B.null t) && n <= 0o777 -> Just (fromInteger n)
      _ -> Nothing
serveOne ch _ _ _ _ = refuse ch "malformed request"
