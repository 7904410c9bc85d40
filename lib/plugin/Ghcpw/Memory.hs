-- | The worker's heap between requests. The worker runs with +RTS -T (statistics) and
-- --disable-delayed-os-memory-return (memory the runtime gives back leaves the resident set at once, so
-- the server's --max-rss judges what the worker really holds), see lib/plugin/build.ts; what it reports of
-- its heap is in Ghcpw.Facts.
--
-- GHC's runtime returns memory to the system only after a major collection, and even then keeps room for
-- the live data to grow (up to (F+2) times it before GHC 9.2). A compile that needs a large heap (an -O2
-- build of vector, a module of thousands of generated instances) grows the heap to hundreds of MB; a cold
-- ghc then exits, but a worker would keep that heap until enough later allocation brings on a major
-- collection, and the runtime's own idle collection never comes (the watch on the server wakes the worker
-- every 100 ms, see Ghcpw.Parent). Building real libraries (scripts/memory.ts), a GHC 9.0 worker with
-- well under 100 MB of live data held 600-700 MB of heap for the rest of the run. So after a request that
-- left the heap at least twice as large as after the worker's last collection (and larger by more than
-- 'minimumGrowth'), the worker collects; on the ordinary small request nothing happens.
module Ghcpw.Memory
  ( Heap
  , newHeap
  , settleHeap
  , runtimeStats
  ) where

import Data.IORef
import Data.Word (Word64)
import GHC.Clock (getMonotonicTimeNSec)
import GHC.Stats (GCDetails (..), RTSStats (..), getRTSStats, getRTSStatsEnabled)
import System.Mem (performMajorGC)

-- | The runtime's own statistics, as of its last collection; Nothing where they are off (a worker not
-- started with +RTS -T).
runtimeStats :: IO (Maybe RTSStats)
runtimeStats = do
  enabled <- getRTSStatsEnabled
  if enabled then Just <$> getRTSStats else pure Nothing

-- | The heap's size after the worker's last collection.
newtype Heap = Heap (IORef Word64)

newHeap :: IO Heap
newHeap = Heap <$> newIORef 0

-- | Growth below this is not worth a collection's time, whatever the heap was.
minimumGrowth :: Word64
minimumGrowth = 128 * 1024 * 1024

-- | After a request: collects the heap if the request left it grown (see the module header), and returns
-- how long the collection took in ms; Nothing if there was none (always, where statistics are off).
settleHeap :: Heap -> IO (Maybe Word64)
settleHeap (Heap collected) = do
  stats <- runtimeStats
  case stats of
    Nothing -> pure Nothing
    Just s -> do
      let heap = gcdetails_mem_in_use_bytes (gc s)
      baseline <- readIORef collected
      if heap > 2 * baseline && heap - baseline > minimumGrowth
        then do
          started <- getMonotonicTimeNSec
          performMajorGC
          ended <- getMonotonicTimeNSec
          writeIORef collected . gcdetails_mem_in_use_bytes . gc =<< getRTSStats
          pure (Just ((ended - started) `div` 1000000))
        else pure Nothing
