/**
 * A small multi-module Haskell project for the end-to-end suites: a library over containers, a Template
 * Haskell module whose splice calls home code and prints with runIO, a module using it, and Main.
 *
 * @module
 */

/** Modules in dependency order (a valid order for one-shot `-c` builds). */
export const MODULE_ORDER = ["Shapes/Types", "Shapes/Area", "Gen/TH", "Tables", "Main"];

/** The project's source files, keyed by path. `answer` is spliced in at compile time. */
export function project(answer = 41): Record<string, string> {
  return {
    "Shapes/Types.hs": `module Shapes.Types (Shape (..), Named (..)) where

data Shape = Circle Double | Rect Double Double
  deriving (Show, Eq, Ord)

class Named a where
  name :: a -> String

instance Named Shape where
  name (Circle _) = "circle"
  name (Rect _ _) = "rect"
`,
    "Shapes/Area.hs": `module Shapes.Area (area, byName, answerBase) where

import qualified Data.Map.Strict as Map
import Shapes.Types

area :: Shape -> Double
area (Circle r) = pi * r * r
area (Rect w h) = w * h

byName :: [Shape] -> Map.Map String [Double]
byName shapes = Map.fromListWith (++) [(name s, [area s]) | s <- shapes]

answerBase :: Int
answerBase = ${answer}
`,
    "Gen/TH.hs": `{-# LANGUAGE TemplateHaskell #-}
module Gen.TH (answerE, tableD) where

import Language.Haskell.TH
import Shapes.Area (answerBase)

-- Runs home-package code at compile time, and prints from the splice.
answerE :: Q Exp
answerE = do
  runIO (putStrLn "TH: computing the answer")
  litE (integerL (fromIntegral (answerBase + 1)))

tableD :: String -> [Int] -> Q [Dec]
tableD n xs = do
  let nm = mkName n
  sig <- sigD nm [t| [Int] |]
  def <- valD (varP nm) (normalB (listE (map (litE . integerL . fromIntegral) xs))) []
  pure [sig, def]
`,
    "Tables.hs": `{-# LANGUAGE TemplateHaskell #-}
module Tables (answer, squares) where

import Gen.TH

answer :: Int
answer = $(answerE)

$(tableD "squares" [x * x | x <- [1 .. 5]])
`,
    "Main.hs": `module Main (main) where

import qualified Data.Map.Strict as Map
import Shapes.Area
import Shapes.Types
import Tables

main :: IO ()
main = do
  print answer
  print squares
  print (Map.toList (byName [Circle 1, Rect 2 3, Rect 1 1]))
`,
  };
}

/** A module that fails to type-check. */
export const TYPE_ERROR_MODULE = `module Broken (broken) where

broken :: Int
broken = "not an Int" ++ show (1 :: Int)
`;

/** A module that compiles with warnings under -Wall. */
export const WARNING_MODULE = `module Warned (warned) where

import Data.List (sort)

warned :: Int -> Int
warned x = let unused = x * 2 in x
`;
