module Text.Banner (banner) where

banner :: String -> String
banner s = "*** " ++ s ++ " ***"
