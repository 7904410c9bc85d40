-- | Where a request's time goes, measured in the worker on every request: a clock that charges the
-- monotonic time between two events to the stage in force, so the stages of a request partition its time
-- exactly and their sum never exceeds it. Costs two clock readings and an IORef update per event (a few
-- dozen events per request).
--
-- The driver's own steps switch the base stage ('switchStage'); GHC's pipeline phases are nested on top of
-- it through GHC's phase hook ('inStage', installed by Ghcpw.Compat.withStageTimes), so a phase's time is
-- charged to the phase and not to the driver step around it. Only the thread that took the request is
-- timed: phases that --make -jN runs on other threads overlap it and are charged to whatever that thread
-- is doing (waiting in --make's loop, "driver").
module Ghcpw.Stages
  ( Stage (..)
  , startRequest
  , switchStage
  , inStage
  , finishRequest
  ) where

import Control.Concurrent (ThreadId, myThreadId)
import Control.Exception (finally)
import Data.IORef
import qualified Data.Map.Strict as Map
import Data.Word (Word64)
import GHC.Clock (getMonotonicTimeNSec)
import GHC.Stats (RTSStats (..))
import Numeric (showFFloat)
import System.IO.Unsafe (unsafePerformIO)

import Ghcpw.Memory (runtimeStats)

-- | The stages of a request; see 'stageName' for what each covers. What GHC does inside a stage (finding
-- modules, reading interfaces) is part of that stage: GHC offers no hook around either.
data Stage
  = Setup
  | Init
  | Session
  | Preprocess
  | Frontend
  | DesugarSimplify
  | Codegen
  | Assemble
  | CCompile
  | Driver
  | Save
  | Finish
  deriving (Eq, Ord, Show, Enum, Bounded)

-- | The name on the wire (`stage-NAME=MS` facts of the Exit message, see lib/wire/worker_protocol.ts).
stageName :: Stage -> String
stageName s = case s of
  Setup -> "setup" -- environment, working directory, locale, captured stdio
  Init -> "init" -- a new GHC session (default flags from the settings the worker read once)
  Session -> "session" -- flags, package databases, the session, resuming kept interfaces
  Preprocess -> "preprocess" -- unlit, CPP, -F preprocessors, OPTIONS_GHC
  Frontend -> "frontend" -- summary, parse, rename, type check (9.0: up to the interface, see Compat)
  DesugarSimplify -> "desugar-simplify" -- desugar, Core-to-Core, the interface (9.4+)
  Codegen -> "codegen" -- CorePrep, STG, Cmm, native or LLVM code generation, writing the interface
  Assemble -> "assemble" -- the assembler
  CCompile -> "cc" -- the C compiler (C sources, stubs)
  Driver -> "driver" -- the mode's own work outside the phases above (--make's graph, linking)
  Save -> "save" -- pruning and keeping interfaces for the next request
  Finish -> "finish" -- sending the captured output still unsent, restoring the process

data Clock = Clock
  { clockOwner :: ThreadId
  , clockStack :: [Stage]
  , clockSince :: Word64
  , clockTotals :: Map.Map Stage Word64
  , clockGcAtStart :: Maybe Word64
  }

-- | The runtime's garbage collection time so far (wall, ns); Nothing without +RTS -T.
gcElapsed :: IO (Maybe Word64)
gcElapsed = fmap (fromIntegral . gc_elapsed_ns) <$> runtimeStats

clockRef :: IORef (Maybe Clock)
clockRef = unsafePerformIO (newIORef Nothing)
{-# NOINLINE clockRef #-}

-- | Starts timing a request on the calling thread, in 'Setup'.
startRequest :: IO ()
startRequest = do
  owner <- myThreadId
  gcAtStart <- gcElapsed
  now <- getMonotonicTimeNSec
  writeIORef clockRef (Just (Clock owner [Setup] now Map.empty gcAtStart))

-- | Charges the time so far to the current stage and makes the stack what `change` says.
advance :: ([Stage] -> [Stage]) -> IO ()
advance change = do
  self <- myThreadId
  now <- getMonotonicTimeNSec
  modifyIORef' clockRef $ \c -> case c of
    Just clock | clockOwner clock == self ->
      let charged = case clockStack clock of
            s : _ -> Map.insertWith (+) s (now - clockSince clock) (clockTotals clock)
            [] -> clockTotals clock
       in Just clock {clockStack = change (clockStack clock), clockSince = now, clockTotals = charged}
    other -> other

-- | Replaces the base stage (the driver's step in force).
switchStage :: Stage -> IO ()
switchStage s = advance (\stack -> case stack of [] -> [s]; _ -> init stack ++ [s])

-- | Runs an action as a stage nested in the current one.
inStage :: Stage -> IO a -> IO a
inStage s action = do
  advance (s :)
  action `finally` advance (drop 1)

-- | Ends the request's timing: each stage that took time, as `stage-NAME=MS` facts (milliseconds), and
-- @gc-ms@, how much of the request's time the runtime spent collecting garbage (within the stages: a
-- collection stops whatever stage is in force).
finishRequest :: IO [String]
finishRequest = do
  advance id
  clock <- atomicModifyIORef' clockRef (\c -> (Nothing, c))
  gcNow <- gcElapsed
  pure $
    [ "stage-" ++ stageName s ++ "=" ++ milliseconds ns
    | Just c <- [clock]
    , (s, ns) <- Map.toList (clockTotals c)
    ]
      ++ [ "gc-ms=" ++ milliseconds (now - start)
         | Just c <- [clock]
         , Just start <- [clockGcAtStart c]
         , Just now <- [gcNow]
         ]
  where
    milliseconds ns = showFFloat (Just 3) (fromIntegral ns / 1e6 :: Double) ""
