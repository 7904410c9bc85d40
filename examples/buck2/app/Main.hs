{-# LANGUAGE TemplateHaskell #-}
module Main (main) where

import Gen.Version (versionE)
import Text.Banner (banner)

main :: IO ()
main = do
  putStrLn $(versionE)
  putStrLn (banner "hello")
