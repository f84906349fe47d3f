// Errors: forkipc::errc, its error category, and the exception type forkipc::error.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include <forkipc/detail/export.hpp>

namespace forkipc {

/// The conditions forkipc itself reports. Errors that come from the operating system (a program
/// that cannot be started, a descriptor limit, ...) keep their std::system_category() code.
enum class errc {
  channel_closed = 1,         ///< the IPC channel is closed: nothing can be sent or received
  malformed_message,          ///< the peer sent bytes that are not a valid message
  message_too_large,          ///< a message is longer than fork_options::max_message_size
  not_forked,                 ///< this process was not started with an IPC channel
  unencodable_message,        ///< a message to send cannot be encoded (e.g. invalid UTF-8)
  unsupported_serialization,  ///< the peer asked for a serialization forkipc does not speak
  truncated_message,          ///< the channel ended in the middle of a message
  request_failed,             ///< a pool worker's handler failed on the request
  worker_exited,              ///< a pool worker ended before it answered
  pool_closed,                ///< the pool was closed before the request
  send_queue_full,            ///< fork_options::max_queued_bytes wait to be written: the peer does not read
  nesting_too_deep,           ///< an incoming message is nested deeper than max_nesting_depth
  unexpected_descriptors,     ///< the peer passed descriptors no message takes; they were closed
  invalid_segment,            ///< a descriptor given to shared_segment::open is not a forkipc segment
  pool_busy,                  ///< a pool refused a request: pool_options::max_pending requests already wait
  aborted,                    ///< fork_options::signal aborted: the child was sent kill_signal
};

/// The category of forkipc::errc; its name() is "forkipc".
FORKIPC_API const std::error_category& category() noexcept;

/// The std::error_code of e in category(), which `std::error_code ec = errc::...` and
/// comparisons such as `ec == errc::channel_closed` use.
FORKIPC_API std::error_code make_error_code(errc e) noexcept;

class FORKIPC_API error;  // exported: see forkipc/detail/export.hpp

/// Every exception forkipc throws for a failed operation, and the argument of "error" events.
/// code() tells what failed (an errc or an operating system error); what() says on what and why.
/// Construct it as a std::system_error: `error(errc::channel_closed, "cannot send")`.
class error : public std::system_error {
 public:
  using std::system_error::system_error;
};

}  // namespace forkipc

template <>
struct std::is_error_code_enum<forkipc::errc> : std::true_type {};
