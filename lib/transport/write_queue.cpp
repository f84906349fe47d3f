#include "transport/write_queue.hpp"

namespace forkipc::detail {
namespace {

// A message is appended to the last chunk while that is smaller than this; a message larger
// than this gets a chunk of its own, so its bytes are never copied a second time.
constexpr std::size_t chunk_size = 64 * 1024;

// A written chunk's storage is kept for the next one when it is the largest yet, up to this:
// a stream of large messages then reuses one buffer, where fresh memory for each would cost a
// page fault per 4 KiB (more than the copy into it), and an idle channel holds at most this.
constexpr std::size_t largest_spare = 16 * 1024 * 1024;

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
  // Bytes up to the next message with descriptors, other than one at the front.
  std::uint64_t limit = pushed_ - written_;
  for (const passed_fd& p : fds_) {
    if (p.at > written_) {
      limit = p.at - written_;
      break;
    }
  }
  std::size_t count = 0;
  for (const chunk& c : chunks_) {
    if (count == out.size() || limit == 0) break;
    const std::size_t length = std::min<std::uint64_t>(c.bytes.size() - c.offset, limit);
    out[count++] = {const_cast<char*>(c.bytes.data() + c.offset), length};
    limit -= length;
  }
  return count;
}

std::vector<int> write_queue::fds_at_front() const {
  std::vector<int> fds;
  for (const passed_fd& p : fds_) {
    if (p.at != written_) break;
    fds.push_back(p.fd.get());
  }
  return fds;
}

void write_queue::consume(std::size_t n, std::vector<callback>& completed) {
  written_ += n;
  // A write that wrote anything passed the descriptors it started with: the peer has its own.
  while (n > 0 && !fds_.empty() && fds_.front().at < written_) fds_.pop_front();
  while (n > 0) {
    chunk& front = chunks_.front();
    const std::size_t taken = std::min(n, front.bytes.size() - front.offset);
    front.offset += taken;
    n -= taken;
    if (front.offset == front.bytes.size()) {
      if (front.bytes.capacity() > spare_.capacity() && front.bytes.capacity() <= largest_spare)
        spare_ = std::move(front.bytes);
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
  fds_.clear();
  written_ = pushed_;
}

}  // namespace forkipc::detail
