module Main (main) where

import qualified Data.Map.Strict as Map
import Shapes.Area
import Shapes.Types
import Tables

main :: IO ()
main = do
  print answer
  print squares
  print (Map.toList (byName [Circle 1, Rect 2 3, Rect 1 1]))
