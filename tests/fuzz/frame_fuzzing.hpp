// What the fuzzers of length-prefixed frames share: feeding a stream in pieces while checking
// the decoder's memory bounds, and what each decoded frame came to.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fuzzing {

inline void require(bool condition) {
  if (!condition) std::abort();
}

/// What one frame decoded to, comparable: its variant's index, the frame it encodes to again (or
/// the bytes it carried), or an error's code.
struct outcome {
  std::size_t kind;
  std::string frame;
  int code = 0;
  bool operator==(const outcome&) const = default;
};

/// Feeds stream to decoder piece bytes at a time, calling drain() after each piece. Requires
/// that the decoder never holds more than one frame of max bytes (and its length) plus a
/// piece, and that once broken it holds no more than the last piece.
template <class Decoder, class Drain>
void feed_in_pieces(Decoder& decoder, std::string_view stream, std::size_t max, std::size_t piece, Drain&& drain) {
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    decoder.feed(stream.substr(at, piece));
    drain();
    require(decoder.buffered() <= max + 4);
    require(decoder.buffer().capacity() <= max + 4 + piece);
    if (decoder.broken()) require(decoder.buffered() <= piece);
  }
}

}  // namespace fuzzing
