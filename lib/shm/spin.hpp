// spin: one step of waiting, without the kernel, for a peer to move a word both processes map.
#pragma once

namespace forkipc::detail::shm {

/// Tells the CPU that this thread spins (x86's pause, Arm's yield): the other hyperthread of
/// the core runs meanwhile, and leaving the loop costs no pipeline flush. Elsewhere, nothing.
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

}  // namespace forkipc::detail::shm
