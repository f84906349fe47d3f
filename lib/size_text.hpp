// size_text: a size, in words, for the error messages of every layer.
#pragma once

#include <cstddef>
#include <string>

namespace forkipc::detail {

/// "N bytes".
inline std::string size_text(std::size_t bytes) { return std::to_string(bytes) + " bytes"; }

}  // namespace forkipc::detail
