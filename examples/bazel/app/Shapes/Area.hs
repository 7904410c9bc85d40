module Shapes.Area (area, byName, answerBase) where

import qualified Data.Map.Strict as Map
import Shapes.Types

area :: Shape -> Double
area (Circle r) = pi * r * r
area (Rect w h) = w * h

byName :: [Shape] -> Map.Map String [Double]
byName shapes = Map.fromListWith (++) [(name s, [area s]) | s <- shapes]

answerBase :: Int
answerBase = 41
