// binary_spares: the vectors of large binary values, reused from one message to the next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <forkipc/json.hpp>

namespace forkipc::detail {

/// A receiver's store of vectors that large binary values lived in, given back once the
/// listeners are done with their message, and filled again for the next ones. Fresh memory for
/// a large value costs a page fault per 4 KiB as the copy into it touches each page (and malloc
/// returns such memory to the system when it is freed), which costs more than the copy itself.
/// It keeps at most max_spares vectors, the largest.
class binary_spares {
 public:
  /// Vectors of at least this capacity are kept (below it, malloc serves from its heap).
  static constexpr std::size_t min_capacity = std::size_t{1} << 20;
  static constexpr std::size_t max_spares = 2;

  /// A kept vector of at least size capacity, the smallest such one; else an empty one.
  std::vector<std::uint8_t> take(std::size_t size) noexcept;

  /// Keeps spare if its capacity is worth it.
  void keep(std::vector<std::uint8_t>&& spare) noexcept;

  /// A vector holding bytes: in a kept one when one is large enough. Counted for
  /// take_back_filled() when it is large enough to keep.
  std::vector<std::uint8_t> filled(std::span<const std::uint8_t> bytes);

  /// Takes back the vectors of the first `values` binary values of message (depth first),
  /// leaving them empty, and keeps those worth keeping.
  void take_back(json& message, std::size_t values) noexcept;

  /// take_back() of as many values as filled() made large ones since the last call.
  void take_back_filled(json& message) noexcept;

 private:
  std::vector<std::vector<std::uint8_t>> spares_;
  std::size_t filled_large_ = 0;
};

}  // namespace forkipc::detail
