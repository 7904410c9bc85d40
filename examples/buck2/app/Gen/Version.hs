{-# LANGUAGE TemplateHaskell #-}
module Gen.Version (versionE) where

import Language.Haskell.TH
import Text.Banner (banner)

-- Runs home-package code at compile time: the splice needs Text.Banner's object.
versionE :: Q Exp
versionE = stringE (banner "built through ghcpw")
