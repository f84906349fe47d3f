// forkipc: Node's child_process.fork for C++. The umbrella header: everything public.
#pragma once

/// \namespace forkipc
/// Everything public of forkipc: fork() and child_process (the parent side), parent() and
/// parent_process (the child side), their blocking forms in forkipc::sync, pool and serve(),
/// handle and shared_segment, the options, and the errors. Names under forkipc::detail are not
/// part of the API.

/// \namespace forkipc::sync
/// The blocking API: sync::child (the parent side) and sync::parent (the child side), for
/// scripts, tools, tests and simple children that need no event loop.

#include <forkipc/detail/asio.hpp>  // first: it carries the <utility> fix-up for Boost 1.74

#include <forkipc/abort_signal.hpp>
#include <forkipc/advanced.hpp>
#include <forkipc/channel_end.hpp>
#include <forkipc/channel_options.hpp>
#include <forkipc/child_process.hpp>
#include <forkipc/default_context.hpp>
#include <forkipc/error.hpp>
#include <forkipc/fork_options.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>
#include <forkipc/parent_process.hpp>
#include <forkipc/pool.hpp>
#include <forkipc/resource_limits.hpp>
#include <forkipc/serialization.hpp>
#include <forkipc/shared_segment.hpp>
#include <forkipc/sync/child.hpp>
#include <forkipc/sync/parent.hpp>
#include <forkipc/transport.hpp>
#include <forkipc/version.hpp>
#include <forkipc/zygote.hpp>
