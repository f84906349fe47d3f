// endpoint_core: what child_process and parent_process do alike with their channel's events.
#pragma once

#include <cstdio>
#include <span>
#include <string>

#include <forkipc/detail/events.hpp>
#include <forkipc/error.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>

#include "channel/channel.hpp"

namespace forkipc::detail {

/// The channel_owner both ends of a channel share: messages and bytes go to the listeners,
/// problems to the "error" listeners or, without one, to stderr, naming the peer. Emitter is
/// the end's listener lists (child_process has more events than parent_process).
template <class Emitter>
class endpoint_core : public channel_owner {
 public:
  /// problem as an "error" event or, without an "error" listener, a line on stderr.
  void report(const error& problem) {
    if (events_.template has_listeners<events::error>()) {
      events_.template emit<events::error>(problem);
    } else {
      std::fprintf(stderr, "forkipc: %s: %s (add an \"error\" listener to handle this)\n", peer_name().c_str(),
                   problem.what());
    }
  }

 protected:
  explicit endpoint_core(Emitter& events) noexcept : events_(events) {}
  ~endpoint_core() = default;

  /// How a line on stderr names the other end ("child 1234", "channel to the parent").
  virtual std::string peer_name() const = 0;

  void on_channel_message(const json& message, forkipc::handle&& passed) override {
    events_.template emit<events::message>(message, std::move(passed));
  }
  void on_channel_bytes(std::span<const std::byte> bytes) override { events_.template emit<events::bytes>(bytes); }
  void on_channel_error(error&& problem) override { report(problem); }

  Emitter& events_;
};

}  // namespace forkipc::detail
