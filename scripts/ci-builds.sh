# The sanitized build folders CI makes beside build/, as one definition that .ci/run and
# scripts/under-load.sh share: source this file, then
#   CXX=$sanitized_cxx scripts/test.sh build-asan "${asan_setup[@]}"
# (and likewise build-asan-zygote with zygote_asan_setup, build-tsan with tsan_setup)
#
# clang++ with libc++, at -O0 with line tables only: clang compiles these Boost-heavy sources
# about three times faster than g++ does under the sanitizers, and clang 14 needs libc++ for
# C++20 coroutines (Asio's awaitable). -O0 finds the same bugs as -O1, which doubles the compile
# time. b_lundef=false: clang links the sanitizer runtimes into programs, not into the library.
# The benchmark programs measure; they are not tests, and are not built here.
sanitized_cxx=clang++
sanitized_common=(--buildtype=plain "-Dcpp_args=['-O0','-gline-tables-only','-stdlib=libc++']"
  -Dcpp_link_args=-stdlib=libc++ -Db_lundef=false -Dbenchmarks=false)
# AddressSanitizer and UBSan: every suite, on the posix backend (CI's only run of it; the linux
# backend runs in the plain build and under ThreadSanitizer).
asan_setup=(-Db_sanitize=address,undefined -Dplatform=posix "${sanitized_common[@]}")
# AddressSanitizer and UBSan on the linux backend, for the zygote suites, which the posix backend
# refuses and ThreadSanitizer cannot follow (the zygote forks with a raw clone3): the zygote's
# forks, its spares and their links, pidfds and memfd rings. About 3.5 minutes on 2 cores.
zygote_asan_setup=(-Db_sanitize=address,undefined -Dplatform=linux "${sanitized_common[@]}" -Dexamples=false
  -Dtest_suites=zygote)
# ThreadSanitizer: the library, the helpers, and the suites that call send and kill from other
# threads.
tsan_setup=(-Db_sanitize=thread "${sanitized_common[@]}" -Dexamples=false -Dtest_suites=threads,pool)
