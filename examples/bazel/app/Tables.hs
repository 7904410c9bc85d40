{-# LANGUAGE TemplateHaskell #-}
module Tables (answer, squares) where

import Gen.TH

answer :: Int
answer = $(answerE)

$(tableD "squares" [x * x | x <- [1 .. 5]])
