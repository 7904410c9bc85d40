-- | What a worker reports with each request's exit code (the Exit frame's key=value facts, see
-- lib/wire/worker_protocol.ts): what it holds after the request, for the server's statistics and
-- `ghcpw status`.
module Ghcpw.Facts (requestFacts) where

import GHC.Stats (GCDetails (..), RTSStats (..), getRTSStats, getRTSStatsEnabled)

import Ghcpw.Warm (Warm, lastResumed, warmFacts)

-- | The kept state's facts (see 'warmFacts'), how many kept interfaces the request started with, and the
-- heap as the runtime itself counts it. The heap figures need the worker started with @+RTS -T@
-- (lib/plugin/build.ts workerArgs); without it they are left out.
requestFacts :: Warm -> IO [(String, String)]
requestFacts warm = do
  resumed <- lastResumed warm
  kept <- warmFacts warm
  heap <- heapFacts
  pure (("interfaces-resumed", show resumed) : kept ++ heap)

heapFacts :: IO [(String, String)]
heapFacts = do
  enabled <- getRTSStatsEnabled
  if not enabled
    then pure []
    else do
      s <- getRTSStats
      pure
        [ ("heap-live-bytes", show (gcdetails_live_bytes (gc s)))
        , ("heap-max-live-bytes", show (max_live_bytes s))
        , ("heap-collections", show (gcs s))
        , ("heap-allocated-bytes", show (allocated_bytes s))
        ]
