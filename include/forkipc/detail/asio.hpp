// The one way forkipc's headers include Boost.Asio.
//
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>; with g++ 12 in
// C++20 mode that fails unless <utility> came first. Including it here lets every forkipc header
// (and the umbrella) compile as the first include of a translation unit.
//
// Boost 1.74's Asio names std::result_of, which C++20 removed: libc++ has none in C++20 mode.
// BOOST_ASIO_HAS_STD_INVOKE_RESULT makes it use std::invoke_result. forkipc's build, its
// pkg-config file and its CMake package pass it to every translation unit; a program built
// without them gets it here, for libc++, where Asio could not compile without it (a file that
// includes Asio before forkipc needs -DBOOST_ASIO_HAS_STD_INVOKE_RESULT=1 then).
#pragma once

#include <utility>

#if defined(_LIBCPP_VERSION) && !defined(BOOST_ASIO_HAS_STD_INVOKE_RESULT)
#define BOOST_ASIO_HAS_STD_INVOKE_RESULT 1
#endif

#include <boost/asio/io_context.hpp>
