// forkipc::json: the type of every message.
#pragma once

#include <nlohmann/json.hpp>

namespace forkipc {

/// A message is any JSON value: null, boolean, number, string, array or object.
using json = nlohmann::json;

}  // namespace forkipc
