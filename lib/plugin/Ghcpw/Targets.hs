-- | How ghc's Main tells sources from linker inputs among the arguments the flag parser left over, for the
-- GHCs whose library does not do it (GHC.parseTargetFiles arrived in 9.4; see Ghcpw.Compat.parseTargets).
module Ghcpw.Targets (partitionTargets) where

import Data.List (isPrefixOf)
import GHC.Driver.Phases (Phase, isSourceFilename, isStopLn, startPhase)
import GHC.Utils.Misc (looksLikeModuleName)
import System.FilePath (hasExtension, normalise)

-- | The sources (with the phase a preceding -x gave them) and the linker inputs, each in argument order.
partitionTargets :: [String] -> ([(String, Maybe Phase)], [String])
partitionTargets args = go (map normaliseHyphen args) [] []
  where
    go [] srcs objs = (reverse srcs, reverse objs)
    go ("-x" : suffix : rest) srcs objs
      | suffix == "none" = go rest srcs objs
      -- As ghc's Main: the linker inputs after -x of a linking phase are taken, and looked at again.
      | isStopLn phase = go rest srcs (slurp ++ objs)
      | otherwise = go rest' (zip slurp (repeat (Just phase)) ++ srcs) objs
      where
        phase = startPhase suffix
        (slurp, rest') = break (== "-x") rest
    go (arg : rest) srcs objs
      | looksLikeInput arg = go rest ((arg, Nothing) : srcs) objs
      | otherwise = go rest srcs (arg : objs)

looksLikeInput :: String -> Bool
looksLikeInput m = isSourceFilename m || looksLikeModuleName m || "-" `isPrefixOf` m || not (hasExtension m)

-- | ghc normalises file arguments but keeps "./-foo.hs" from turning into the flag "-foo.hs".
normaliseHyphen :: FilePath -> FilePath
normaliseHyphen fp
  | "./" `isPrefixOf` fp && "-" `isPrefixOf` nfp = "./" ++ nfp
  | otherwise = nfp
  where
    nfp = normalise fp
