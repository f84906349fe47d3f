#include "write_queue.hpp"

namespace forkipc::detail {
namespace {

// A message is appended to the last chunk while that is smaller than this; a message larger
// than this gets a chunk of its own, so its bytes are never copied a second time.
constexpr std::size_t chunk_size = 64 * 1024;

}  // namespace

std::string& write_queue::chunk_for_append() {
  if (chunks_.empty() || chunks_.back().bytes.size() >= chunk_size) {
    chunks_.push_back({std::move(spare_), 0});
    spare_ = {};
    chunks_.back().bytes.clear();
  }
  return chunks_.back().bytes;
}

std::size_t write_queue::gather(std::span<iovec> out) const noexcept {
  std::size_t count = 0;
  for (const chunk& c : chunks_) {
    if (count == out.size()) break;
    out[count++] = {const_cast<char*>(c.bytes.data() + c.offset), c.bytes.size() - c.offset};
  }
  return count;
}

void write_queue::consume(std::size_t n, std::vector<callback>& completed) {
  written_ += n;
  while (n > 0) {
    chunk& front = chunks_.front();
    const std::size_t taken = std::min(n, front.bytes.size() - front.offset);
    front.offset += taken;
    n -= taken;
    if (front.offset == front.bytes.size()) {
      if (front.bytes.capacity() <= 4 * chunk_size) spare_ = std::move(front.bytes);
      chunks_.pop_front();
    }
  }
  while (!callbacks_.empty() && callbacks_.front().end <= written_) {
    completed.push_back(std::move(callbacks_.front().on_written));
    callbacks_.pop_front();
  }
}

void write_queue::clear(std::vector<callback>& dropped) {
  for (pending_callback& p : callbacks_) dropped.push_back(std::move(p.on_written));
  callbacks_.clear();
  chunks_.clear();
  written_ = pushed_;
}

}  // namespace forkipc::detail
