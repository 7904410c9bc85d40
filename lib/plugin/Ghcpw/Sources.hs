-- | Which module each source of a @--make@ build is, as GHC itself read it (after CPP, from a literate
-- source): the name an incremental build (lib/incremental/) records for a source's saved outputs, so that
-- a source whose name cannot be read from its text alone can be restored under it, and, after a build
-- that restored outputs, the check that every restored module is still the one GHC built from its source.
-- Reported after a successful build as the @module-sources@ fact of the Exit message (Ghcpw.Facts).
module Ghcpw.Sources (noteModuleSources, moduleSourcesFacts) where

import Control.Monad.IO.Class (liftIO)
import Data.IORef
import Data.List (intercalate)
import GHC (Ghc, getModuleGraph, moduleName, moduleNameString, ms_mod)
import System.IO.Unsafe (unsafePerformIO)

import Ghcpw.Compat

-- | The last successful @--make@ build's sources, until reported.
lastSources :: IORef (Maybe [(String, FilePath)])
lastSources = unsafePerformIO (newIORef Nothing)
{-# NOINLINE lastSources #-}

-- | Notes the module name and source file (as GHC was given it) of each home module of the session's
-- finished build; boot files and signatures are not modules of their own here.
noteModuleSources :: Ghc ()
noteModuleSources = do
  summaries <- filter (not . bootSummary) . mgModSummaries <$> getModuleGraph
  liftIO . writeIORef lastSources $
    Just [(moduleNameString (moduleName (ms_mod ms)), file) | ms <- summaries, Just file <- [summarySource ms]]

-- | The @module-sources@ fact (name, source, name, source, ... separated by NUL, which neither a module
-- name nor a path holds) if a @--make@ build noted them since the last call.
moduleSourcesFacts :: IO [(String, String)]
moduleSourcesFacts = do
  noted <- atomicModifyIORef' lastSources (\s -> (Nothing, s))
  pure [("module-sources", intercalate "\0" (concat [[m, f] | (m, f) <- pairs])) | Just pairs <- [noted]]
