-- | The Haskell side of ghcpw's frame format (the TypeScript side is lib/wire/frame.ts, lib/wire/fields.ts and lib/wire/messages.ts):
-- a frame is a 4-byte big-endian length, a 1-byte type, then (length - 1) bytes of payload. Structured
-- payloads are lists of fields, each field a list of byte strings, every count and length 4-byte big-endian.
module Ghcpw.Frame
  ( FrameType (..)
  , readFrame
  , writeFrame
  , encodeFields
  , decodeFields
  , maxFrameBytes
  ) where

import Control.Monad (replicateM, when)
import Data.Bits (shiftL, (.|.))
import qualified Data.ByteString as B
import qualified Data.ByteString.Builder as BB
import qualified Data.ByteString.Lazy as BL
import Data.Word (Word32, Word8)
import System.IO (Handle, hFlush)

-- | Frame types; the numbers on the wire are those of typeCode.
data FrameType = Hello | Request | Stdout | Stderr | Exit | Failure | Defer
  deriving (Eq, Show, Enum, Bounded)

-- | The one place of the numbers, which must match FrameType in lib/wire/messages.ts (checked by
-- tests/unit/plugin_contract_test.ts).
typeCode :: FrameType -> Word8
typeCode Hello = 1
typeCode Request = 2
typeCode Stdout = 3
typeCode Stderr = 4
typeCode Exit = 5
typeCode Failure = 6
typeCode Defer = 7

codeType :: Word8 -> Maybe FrameType
codeType c = lookup c [(typeCode t, t) | t <- [minBound .. maxBound]]

-- | Frames above this size are refused rather than buffered, so a corrupt length cannot exhaust memory.
maxFrameBytes :: Int
maxFrameBytes = 64 * 1024 * 1024

word32 :: B.ByteString -> Int
word32 b = fromIntegral (foldl (\acc w -> acc `shiftL` 8 .|. fromIntegral w) (0 :: Word32) (B.unpack b))

-- | Reads one frame; Nothing at a clean end of input, an error for a truncated, oversized or unknown frame.
readFrame :: Handle -> IO (Maybe (FrameType, B.ByteString))
readFrame h = do
  header <- B.hGet h 4
  if B.null header
    then pure Nothing
    else do
      when (B.length header /= 4) $ ioError (userError "ghcpw: truncated frame header")
      let len = word32 header
      when (len < 1 || len > maxFrameBytes) $
        ioError (userError ("ghcpw: bad frame length " ++ show len))
      body <- B.hGet h len
      when (B.length body /= len) $ ioError (userError "ghcpw: truncated frame")
      case codeType (B.head body) of
        Nothing -> ioError (userError ("ghcpw: unknown frame type " ++ show (B.head body)))
        Just t -> pure (Just (t, B.tail body))

-- | Writes one frame in a single buffered write and flushes it.
writeFrame :: Handle -> FrameType -> B.ByteString -> IO ()
writeFrame h t payload = do
  BL.hPut h $ BB.toLazyByteString $
    BB.word32BE (fromIntegral (B.length payload + 1)) <> BB.word8 (typeCode t) <> BB.byteString payload
  hFlush h

encodeFields :: [[B.ByteString]] -> B.ByteString
encodeFields fields = BL.toStrict $ BB.toLazyByteString $ count fields <> foldMap field fields
  where
    count xs = BB.word32BE (fromIntegral (length xs))
    field xs = count xs <> foldMap (\x -> BB.word32BE (fromIntegral (B.length x)) <> BB.byteString x) xs

decodeFields :: B.ByteString -> Either String [[B.ByteString]]
decodeFields input = case runParser (count >>= \n -> replicateM n field) input of
  Just (fields, rest) | B.null rest -> Right fields
  _ -> Left "ghcpw: malformed payload"
  where
    count = Parser $ \b -> if B.length b < 4 then Nothing else Just (word32 (B.take 4 b), B.drop 4 b)
    bytes = count >>= \n -> Parser $ \b -> if B.length b < n then Nothing else Just (B.splitAt n b)
    field = count >>= \n -> replicateM n bytes

newtype Parser a = Parser {runParser :: B.ByteString -> Maybe (a, B.ByteString)}

instance Functor Parser where
  fmap f (Parser p) = Parser $ \b -> fmap (\(a, r) -> (f a, r)) (p b)

instance Applicative Parser where
  pure a = Parser $ \b -> Just (a, b)
  Parser pf <*> Parser pa = Parser $ \b -> case pf b of
    Nothing -> Nothing
    Just (f, r) -> fmap (\(a, r') -> (f a, r')) (pa r)

instance Monad Parser where
  Parser p >>= k = Parser $ \b -> case p b of
    Nothing -> Nothing
    Just (a, r) -> runParser (k a) r

