// forkipc: Node's child_process.fork for C++. The umbrella header: everything public.
#pragma once

#include <forkipc/detail/asio.hpp>  // first: it carries the <utility> fix-up for Boost 1.74

#include <forkipc/channel_options.hpp>
#include <forkipc/child_process.hpp>
#include <forkipc/default_context.hpp>
#include <forkipc/error.hpp>
#include <forkipc/fork_options.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>
#include <forkipc/parent_process.hpp>
#include <forkipc/pool.hpp>
#include <forkipc/serialization.hpp>
#include <forkipc/shared_segment.hpp>
#include <forkipc/sync/child.hpp>
#include <forkipc/sync/parent.hpp>
#include <forkipc/transport.hpp>
#include <forkipc/version.hpp>
