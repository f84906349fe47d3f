#include "transport/received_descriptors.hpp"

#include <utility>

namespace forkipc::detail {

void received_descriptors::add(stream_span read, unique_fd fd) {
  if (held_.size() >= max_held) {
    ++closed_;  // fd closes here
    return;
  }
  held_.push_back({read, std::move(fd)});
}

unique_fd received_descriptors::take(stream_span message) {
  // In arrival order: what came with earlier reads belongs to earlier messages, if to any.
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (it->read.begin >= message.end) break;  // came with bytes after the message
    if (it->read.end <= message.begin) continue;  // came before it: a stray, closed by settle()
    unique_fd fd = std::move(it->fd);
    held_.erase(it);
    return fd;
  }
  return {};
}

void received_descriptors::settle(std::uint64_t end) {
  closed_ += std::erase_if(held_, [end](const held& h) { return h.read.end <= end; });
}

received_descriptors::closed_count received_descriptors::take_closed() noexcept {
  return {std::exchange(closed_, 0), std::exchange(truncated_, false)};
}

}  // namespace forkipc::detail
