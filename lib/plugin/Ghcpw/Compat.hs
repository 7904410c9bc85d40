{-# LANGUAGE CPP #-}

-- | Every difference between GHC versions that the plugin meets lives here, so the other modules read as
-- if there were one GHC. Tested: 9.0, 9.6, 9.10; the 9.2, 9.4, 9.8 and 9.12 branches follow the API
-- documentation of those releases (best effort).
module Ghcpw.Compat
  ( -- * The GHC API as the plugin uses it
    Ghc
  , DynFlags (ghcMode, ghcLink, verbosity, ldInputs, outputFile, outputHi)
  , GhcMode (..)
  , GhcLink (..)
  , Option (FileOption)
  , Phase
  , LoadHowMuch (..)
  , getSessionDynFlags
  , setSessionDynFlags
  , getSession
  , setTargets
  , load
  , failed
  , handleSourceError
  , printException
  , doMkDependHS
  , mkGeneralLocated
  , unLoc
  , isNoLink
  , isHaskellishTarget
  , isSourceFilename
  , looksLikeModuleName
  , startPhase
  , isStopLn
  , topDir
  , FrontendPlugin
  , frontendWith
    -- * Shims over version differences
  , Stop (..)
  , runSession
  , defaultErrorHandler'
  , parseFlags
  , withPrettyErrors
  , showBanner
  , initUniques
  , oneShotTo
  , compileToObject
  , guessTargetFile
  , showInterface
  , fastStringStats
  , Terminal (..)
  , applyTerminal
  , ghcVersion
  ) where

import Control.Monad.IO.Class (liftIO)
import GHC
  ( Ghc
  , GhcMonad
  , LoadHowMuch (..)
  , Target
  , getSession
  , getSessionDynFlags
  , guessTarget
  , load
  , printException
  , setSessionDynFlags
  , setTargets
  )
import qualified GHC
import GHC.Driver.MakeFile (doMkDependHS)
import GHC.Driver.Phases (Phase, isHaskellishTarget, isSourceFilename, isStopLn, startPhase)
import GHC.Driver.Plugins (FrontendPlugin (..), defaultFrontendPlugin)
import GHC.Driver.Session
import GHC.Settings.Config (cBooterVersion, cProjectVersion, cStage)
import GHC.Types.SrcLoc (Located, mkGeneralLocated, unLoc)
import GHC.Types.Unique.Supply (initUniqSupply)
import GHC.Utils.Misc (looksLikeModuleName)
import System.IO (hPutStr, hPutStrLn, stderr)

#if MIN_VERSION_ghc(9,4,0)
import GHC.Types.SourceError (handleSourceError)
#else
import GHC.Driver.Types (handleSourceError)
import GHC.Driver.Types (HscEnv)
import GHC.Driver.Main (newHscEnv)
import GHC.Driver.Pipeline (compileFile, oneShot)
import qualified GHC.Driver.Phases as Phases
import GHC.Iface.Load (showIface)
import GHC.Types.Basic (failed)
import GHC.Driver.Types (handleFlagWarnings)
#endif

-- | Where a one-shot compile stops: -c (object, no link), -E (after preprocessing), -S (assembly).
data Stop = StopAfterLink | StopBeforeHsc | StopBeforeAs

-- | What the client's terminal allows: Unicode quotes and ANSI colours in diagnostics.
data Terminal = Terminal {termUnicode :: Bool, termColour :: Bool}

ghcVersion :: String
ghcVersion = cProjectVersion

-- | A frontend plugin whose action gets the libdir of the GHC it runs in.
frontendWith :: (FilePath -> IO ()) -> FrontendPlugin
frontendWith serve = defaultFrontendPlugin
  { frontend = \_ _ -> getSessionDynFlags >>= liftIO . serve . topDir }

-- | A fresh session as a newly started ghc would have it.
runSession :: FilePath -> Ghc a -> IO a
runSession libdir = GHC.runGhc (Just libdir)

defaultErrorHandler' :: IO a -> IO a
defaultErrorHandler' = GHC.defaultErrorHandler defaultFatalMessager defaultFlushOut

-- | Parses the dynamic flags; the returned action prints the flag warnings as ghc does (it may throw a
-- SourceError under -Werror).
parseFlags :: DynFlags -> [Located String] -> Ghc (DynFlags, [Located String], Ghc ())
parseFlags dflags args = do
  (dflags', leftover, warns) <- GHC.parseDynamicFlags dflags args
  pure (dflags', leftover, liftIO (handleFlagWarnings dflags' warns))

withPrettyErrors :: DynFlags -> Ghc a -> Ghc a
withPrettyErrors = GHC.prettyPrintGhcErrors

showBanner :: DynFlags -> IO ()
showBanner dflags =
  if verbosity dflags >= 2
    then do
      hPutStr stderr ("Glasgow Haskell Compiler, Version " ++ cProjectVersion ++ ", stage " ++ cStage)
      hPutStrLn stderr (" booted by GHC version " ++ cBooterVersion)
    else pure ()

initUniques :: DynFlags -> IO ()
initUniques dflags = initUniqSupply (fromIntegral (initialUnique dflags)) (uniqueIncrement dflags)

applyTerminal :: Terminal -> DynFlags -> DynFlags
applyTerminal t dflags = dflags {useUnicode = termUnicode t, canUseColor = termColour t}

fastStringStats :: DynFlags -> Bool
fastStringStats = gopt Opt_D_faststring_stats

#if MIN_VERSION_ghc(9,4,0)
#else
oneShotTo :: HscEnv -> Stop -> [(String, Maybe Phase)] -> IO ()
oneShotTo hscEnv stop = oneShot hscEnv $ case stop of
  StopAfterLink -> Phases.StopLn
  StopBeforeHsc -> Phases.anyHsc
  StopBeforeAs -> Phases.As False

compileToObject :: HscEnv -> (FilePath, Maybe Phase) -> IO (Maybe FilePath)
compileToObject hscEnv src = Just <$> compileFile hscEnv Phases.StopLn src

guessTargetFile :: GhcMonad m => String -> Maybe Phase -> m Target
guessTargetFile = guessTarget

showInterface :: DynFlags -> FilePath -> IO ()
showInterface dflags file = newHscEnv dflags >>= \hscEnv -> showIface hscEnv file
#endif
