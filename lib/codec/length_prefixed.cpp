#include "codec/length_prefixed.hpp"

#include <cstdio>

namespace forkipc::detail {

std::optional<std::variant<std::string_view, error>> length_prefixed_frames::next_body() {
  if (broken_) {  // whatever still arrives is dropped, never held
    buffer_.clear();
    return std::nullopt;
  }
  const std::string_view data = buffer_.data();
  if (data.size() < length_prefix_size) return std::nullopt;
  std::size_t length = 0;
  for (std::size_t i = 0; i < length_prefix_size; ++i) length = (length << 8) | static_cast<unsigned char>(data[i]);
  if (length > max_message_size_ || length > longest_body_) {
    broken_ = true;
    buffer_.clear();
    const std::string why =
        length > longest_body_
            ? std::string(format_) + " frames hold at most " + size_text(longest_body_) + ": no peer wrote it"
            : "the limit is " + size_text(max_message_size_);
    return error(errc::message_too_large,
                 "the peer announced a message of " + size_text(length) + " (" + why + "); " +
                     std::string(format_) + " framing cannot skip it safely, so the channel is closed");
  }
  if (data.size() - length_prefix_size < length) return std::nullopt;
  const std::string_view body = data.substr(length_prefix_size, length);
  last_span_ = {buffer_.position(), buffer_.position() + length_prefix_size + length};
  // The body's bytes stay where they are until the next prepare(), so consuming first is safe.
  buffer_.consume(length_prefix_size + length);
  if (length == 0) return error(errc::malformed_message, "received an empty " + std::string(format_) + " frame");
  return body;
}

std::optional<error> length_prefixed_frames::finish() {
  std::optional<error> result;
  if (!broken_ && buffer_.size() > 0) {
    result.emplace(errc::truncated_message, "the channel ended after " + size_text(buffer_.size()) +
                                                " of a frame in " + std::string(format_) +
                                                " framing: " + hex_excerpt(buffer_.data()));
  }
  buffer_.clear();
  return result;
}

std::string hex_excerpt(std::string_view bytes, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(bytes[i]));
    if (i > 0) out.push_back(' ');
    out.append(hex);
  }
  if (bytes.size() > limit) out.append(" ... (" + size_text(bytes.size()) + " in all)");
  return out;
}

}  // namespace forkipc::detail
