-- | What a worker reports with each request's exit code (the Exit frame's key=value facts, see
-- lib/wire/worker_protocol.ts): what it holds after the request, for the server's statistics and
-- `ghcpw status`; and for a @--make@ build, which modules ran code while compiled, the modules whose
-- interfaces GHC kept stale and each source's module name (Ghcpw.RanCode, Ghcpw.Stale, Ghcpw.Sources),
-- for incremental builds.
module Ghcpw.Facts (requestFacts) where

import Data.List (intercalate)
import Data.Word (Word64)
import GHC.Stats (GCDetails (..), RTSStats (..))

import Ghcpw.Memory (Heap, runtimeStats, settleHeap)
import Ghcpw.Sources (moduleSourcesFacts)
import Ghcpw.Stale (staleModulesFacts)
import Ghcpw.RanCode (ranCodeModules)
import Ghcpw.Warm (Warm, lastResumed, warmFacts)

-- | The kept state's facts (see 'warmFacts'), how many kept interfaces the request started with,
-- @ran-code@ (the modules that ran code while compiled, comma-separated, see Ghcpw.RanCode), after a
-- @--make@ build @stale-modules@ and @module-sources@ (Ghcpw.Stale, Ghcpw.Sources), and the
-- heap as the runtime itself counts it, after the collection the request may have called for (see
-- Ghcpw.Memory). The heap figures need the worker started with @+RTS -T@ (lib/plugin/build.ts
-- workerArgs); without it they are left out.
requestFacts :: Warm -> Heap -> IO [(String, String)]
requestFacts warm heap = do
  collectedMs <- settleHeap heap
  resumed <- lastResumed warm
  kept <- warmFacts warm
  stats <- heapFacts collectedMs
  ranCode <- ranCodeModules
  stale <- staleModulesFacts
  sources <- moduleSourcesFacts
  pure (("interfaces-resumed", show resumed) : ("ran-code", intercalate "," ranCode) : kept ++ stats ++ stale ++ sources)

-- | @heap-bytes@ is what the runtime holds for the heap (what the worker's resident memory mostly is);
-- @heap-collected-ms@, present only after a collection, what that collection took.
heapFacts :: Maybe Word64 -> IO [(String, String)]
heapFacts collectedMs = do
  stats <- runtimeStats
  case stats of
    Nothing -> pure []
    Just s ->
      pure $
        [ ("heap-live-bytes", show (gcdetails_live_bytes (gc s)))
        , ("heap-max-live-bytes", show (max_live_bytes s))
        , ("heap-bytes", show (gcdetails_mem_in_use_bytes (gc s)))
        , ("heap-collections", show (gcs s))
        , ("heap-allocated-bytes", show (allocated_bytes s))
        ]
          ++ [("heap-collected-ms", show ms) | Just ms <- [collectedMs]]
