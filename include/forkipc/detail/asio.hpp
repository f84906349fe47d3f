// The one way forkipc's headers include Boost.Asio.
//
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>; with g++ 12 in
// C++20 mode that fails unless <utility> came first. Including it here lets every forkipc header
// (and the umbrella) compile as the first include of a translation unit.
#pragma once

#include <utility>

#include <boost/asio/io_context.hpp>
