-- | Which modules ran code of the user's while a request compiled them: a Template Haskell splice of any
-- kind, a quasi-quote or an annotation, as GHC's meta hook sees them (installed by
-- Ghcpw.Compat.observeMeta). Reported with the request's exit (the @ran-code@ fact, see Ghcpw.Facts):
-- an incremental build (lib/incremental/) restores a module's saved outputs only if the build that made
-- them ran no such code for it, since what that code read (files, the environment) nothing records.
module Ghcpw.RanCode
  ( startRanCode
  , recordRanCode
  , ranCodeModules
  ) where

import Data.IORef (IORef, atomicModifyIORef', newIORef, readIORef, writeIORef)
import qualified Data.Set as Set
import GHC.Unit.Module (moduleName, moduleNameString)
import System.IO.Unsafe (unsafePerformIO)

import Ghcpw.Compat (Module)

-- | The request's modules so far, by name; --make -jN type-checks on several threads at once.
ranCodeRef :: IORef (Set.Set String)
ranCodeRef = unsafePerformIO (newIORef Set.empty)
{-# NOINLINE ranCodeRef #-}

-- | Forgets the modules of the previous request.
startRanCode :: IO ()
startRanCode = writeIORef ranCodeRef Set.empty

-- | Notes that GHC is about to run code while compiling this module.
recordRanCode :: Module -> IO ()
recordRanCode m = atomicModifyIORef' ranCodeRef (\s -> (Set.insert (moduleNameString (moduleName m)) s, ()))

-- | The modules of this request that ran code, by name, in order.
ranCodeModules :: IO [String]
ranCodeModules = Set.toAscList <$> readIORef ranCodeRef
