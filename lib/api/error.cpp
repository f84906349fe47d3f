#include <forkipc/error.hpp>

namespace forkipc {
namespace {

class forkipc_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "forkipc"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::channel_closed:
        return "the IPC channel is closed";
      case errc::malformed_message:
        return "malformed message from the peer";
      case errc::message_too_large:
        return "message larger than max_message_size";
      case errc::not_forked:
        return "this process has no IPC channel to a parent (it was not started by fork)";
      case errc::unencodable_message:
        return "the message cannot be encoded";
      case errc::unsupported_serialization:
        return "serialization not supported by forkipc";
      case errc::truncated_message:
        return "the channel ended in the middle of a message";
      case errc::request_failed:
        return "the worker failed to handle the request";
      case errc::worker_exited:
        return "the worker ended before it answered";
      case errc::pool_closed:
        return "the pool is closed";
      case errc::send_queue_full:
        return "too many bytes wait to be sent (max_queued_bytes): the peer does not read";
      case errc::nesting_too_deep:
        return "message nested deeper than max_nesting_depth";
      case errc::unexpected_descriptors:
        return "the peer passed descriptors that no message takes";
      case errc::invalid_segment:
        return "the descriptor is not a forkipc shared segment";
      case errc::pool_busy:
        return "the pool is busy: max_pending requests already wait for a worker";
      case errc::aborted:
        return "the operation was aborted";
    }
    return "unknown forkipc error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& category() noexcept {
  static const forkipc_category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace forkipc
