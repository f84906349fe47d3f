// forkipc::resource_limits: what a child may consume, set before its program runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace forkipc {

/// Limits a child is held to from its first instruction (fork_options::limits): setrlimit(2) in
/// the child before its program runs, for spawned and zygote children alike, inherited by the
/// child's own children. Each is unset by default: the parent's limit applies. What happens at
/// a limit is the kernel's: see each field.
struct resource_limits {
  /// The child's address space, in bytes (RLIMIT_AS): past it an allocation fails (a C++
  /// program gets std::bad_alloc, which ends it with SIGABRT unless it catches it). Counts
  /// address space, not resident memory: a program that maps large regions it never touches
  /// needs a larger figure, and sanitizers (ASan) reserve terabytes and cannot run under it.
  std::optional<std::size_t> memory_bytes{};
  /// Processor time (RLIMIT_CPU), whole seconds: past it the kernel sends SIGXCPU, which ends
  /// the child, then SIGKILL a second later.
  std::optional<std::chrono::seconds> cpu_time{};
  /// Open descriptors (RLIMIT_NOFILE): past it open(), socket() and the like fail with EMFILE.
  /// The child's channel counts as one.
  std::optional<std::size_t> open_files{};
};

}  // namespace forkipc
