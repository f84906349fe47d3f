// The zygote's side: a program started by forkipc::zygote becomes one at its first call into
// forkipc's child side.
#pragma once

namespace forkipc::detail {

/// Called first by every entry into forkipc's child side (has_parent(), parent(), sync::parent,
/// serve()). In a process started by forkipc::zygote (FORKIPC_ZYGOTE in its environment), the
/// first call never returns in the zygote itself: it answers its owner's requests by forking,
/// and ends (_exit, no destructor runs: it stopped in the middle of its start-up) when its
/// owner closes the channel or dies. Each forked child returns from the call with its own
/// channel on fd 3, as if it had been spawned. In any other process, and after the first call,
/// it does nothing.
void serve_as_zygote_if_asked() noexcept;

}  // namespace forkipc::detail
