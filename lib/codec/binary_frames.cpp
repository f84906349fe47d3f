#include "codec/binary_frames.hpp"

#include <cstdint>
#include <cstdio>

#include "size_text.hpp"

namespace forkipc::detail {

namespace {

constexpr std::size_t header_size = 4;

std::uint32_t read_length(std::string_view header) noexcept {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < header_size; ++i) n = (n << 8) | static_cast<unsigned char>(header[i]);
  return n;
}

// Appends a frame whose body write_body(out) appends, leaving out as it was if it throws.
template <class WriteBody>
void append_frame(std::string& out, WriteBody&& write_body) {
  const std::size_t start = out.size();
  out.append(header_size, '\0');
  try {
    write_body(out);
  } catch (...) {
    out.resize(start);
    throw;
  }
  const std::size_t length = out.size() - start - header_size;
  if (length > UINT32_MAX) {
    out.resize(start);
    throw error(errc::unencodable_message, "cannot encode a message of " + size_text(length) +
                                               ": a binary frame holds at most 4 GiB");
  }
  for (std::size_t i = 0; i < header_size; ++i)
    out[start + i] = static_cast<char>(length >> (8 * (header_size - 1 - i)));
}

}  // namespace

void encode_binary_frame(const json& message, std::string& out, binary_spill* spill,
                         std::size_t max_depth) {
  append_frame(out, [&](std::string& body) { write_msgpack(message, body, spill, max_depth); });
}

void encode_bytes_frame(std::span<const std::byte> bytes, std::string& out) {
  append_frame(out, [&](std::string& body) {
    write_msgpack_ext_header(bytes.size(), raw_bytes_ext, body);
    body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  });
}

std::optional<decoded> binary_frame_decoder::next() {
  if (broken_) {  // whatever still arrives is dropped, never held
    buffer_.clear();
    return std::nullopt;
  }
  const std::string_view data = buffer_.data();
  if (data.size() < header_size) return std::nullopt;
  const std::size_t length = read_length(data);
  if (length > max_message_size_) {
    broken_ = true;
    buffer_.clear();
    return error(errc::message_too_large,
                 "the peer announced a message of " + size_text(length) + " (the limit is " +
                     size_text(max_message_size_) +
                     "); binary framing cannot skip it safely, so the channel is closed");
  }
  if (data.size() - header_size < length) return std::nullopt;
  const std::string_view body = data.substr(header_size, length);
  last_span_ = {buffer_.position(), buffer_.position() + header_size + length};
  // The body's bytes stay where they are until the next prepare(), so consuming first is safe.
  buffer_.consume(header_size + length);
  if (length == 0) return error(errc::malformed_message, "received an empty binary frame");
  if (auto bytes = msgpack_ext_payload(body, raw_bytes_ext)) return raw_bytes{*bytes};
  json value;
  if (fetch_ != nullptr) fetch_->begin_message(last_span_);
  const auto problem = read_msgpack(body, value, fetch_, max_nesting_depth_);
  const auto refused = fetch_ != nullptr ? fetch_->end_message() : std::nullopt;
  if (problem) {
    const char* what = problem->code == errc::malformed_message ? "a malformed" : "a discarded";
    return error(problem->code, std::string(what) + " binary message of " + size_text(length) + " (" +
                                    problem->why + "): " + hex_excerpt(body));
  }
  if (refused) return error(errc::message_too_large, "dropped a binary message: " + *refused);
  return classify(std::move(value));
}

std::optional<error> binary_frame_decoder::finish() {
  std::optional<error> result;
  if (!broken_ && buffer_.size() > 0) {
    result.emplace(errc::truncated_message, "the channel ended after " +
                                                size_text(buffer_.size()) +
                                                " of a binary frame: " + hex_excerpt(buffer_.data()));
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
