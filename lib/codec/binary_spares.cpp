#include "codec/binary_spares.hpp"

#include <algorithm>
#include <new>
#include <utility>

namespace forkipc::detail {

std::vector<std::uint8_t> binary_spares::take(std::size_t size) noexcept {
  // The smallest that is large enough: the larger ones stay for larger values.
  auto best = spares_.end();
  for (auto it = spares_.begin(); it != spares_.end(); ++it)
    if (it->capacity() >= size && (best == spares_.end() || it->capacity() < best->capacity())) best = it;
  if (best == spares_.end()) return {};
  std::vector<std::uint8_t> taken = std::move(*best);
  spares_.erase(best);
  return taken;
}

void binary_spares::keep(std::vector<std::uint8_t>&& spare) noexcept {
  if (spare.capacity() < min_capacity) return;
  try {
    spares_.push_back(std::move(spare));
  } catch (const std::bad_alloc&) {
    return;  // it is freed instead: a missed reuse, nothing more
  }
  std::sort(spares_.begin(), spares_.end(), [](const auto& a, const auto& b) { return a.capacity() > b.capacity(); });
  if (spares_.size() > max_spares) spares_.resize(max_spares);
}

std::vector<std::uint8_t> binary_spares::filled(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < min_capacity) return {bytes.begin(), bytes.end()};
  ++filled_large_;
  std::vector<std::uint8_t> vector = take(bytes.size());
  vector.assign(bytes.begin(), bytes.end());  // within its capacity: no allocation, no fault
  return vector;
}

void binary_spares::take_back(json& message, std::size_t values) noexcept {
  if (values == 0) return;
  // Without recursion, whatever the message's depth; the walk stops after as many binary values
  // (a smaller one met on the way counts).
  try {
    std::vector<json*> pending{&message};
    while (values > 0 && !pending.empty()) {
      json& value = *pending.back();
      pending.pop_back();
      if (value.is_binary()) {
        keep(std::move(static_cast<std::vector<std::uint8_t>&>(value.get_binary())));
        --values;
      } else if (value.is_structured()) {
        for (json& element : value) pending.push_back(&element);
      }
    }
  } catch (const std::bad_alloc&) {
    // The walk's own memory failed: the rest is freed with the message, a missed reuse.
  }
}

void binary_spares::take_back_filled(json& message) noexcept {
  take_back(message, std::exchange(filled_large_, 0));
}

}  // namespace forkipc::detail
