module Shapes.Types (Shape (..), Named (..)) where

data Shape = Circle Double | Rect Double Double
  deriving (Show, Eq, Ord)

class Named a where
  name :: a -> String

instance Named Shape where
  name (Circle _) = "circle"
  name (Rect _ _) = "rect"
