// forkipc's side of the channel benchmarks. The program is its own child: started with a
// channel, it plays the role argv[1] names.
//
//   bench_forkipc roundtrip N [--split]   N round trips of {"n":12345}: median and p99, in us
//   bench_forkipc stream N                N messages one way, with backpressure: messages/s,
//                                         and the sender's peak RSS in MB
//   bench_forkipc big N BYTES             N strings of BYTES one way: MB/s
//   bench_forkipc binary N BYTES [--inline]
//                                         N binary values of BYTES one way in binary
//                                         serialization (through shared memory, or with
//                                         --inline through the socket): MB/s
//   bench_forkipc stream-binary N         as stream, in binary serialization
//   bench_forkipc spawn N                 fork() to the child's first message: median, in ms
//
// --split puts the parent on CPU 0 and the child on CPU 1; without it the caller decides (the
// driver runs everything under `taskset -c 0` for the same-CPU figures). Each figure is printed
// as one JSON line: {"shape": ..., "value": ..., "unit": ...}.
#include <forkipc/forkipc.hpp>

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using forkipc::json;

void report(const std::string& shape, double value, const std::string& unit) {
  std::cout << json{{"shape", shape}, {"value", value}, {"unit", unit}}.dump() << std::endl;
}

void pin_to(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(pid, sizeof set, &set) != 0) std::perror("sched_setaffinity");
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

// VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve from the process that
// forked us (the benchmark driver), VmHWM is this program's own high-water mark.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // in kB
  return 0;
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// The child's roles.
int child_main(const std::string& role) {
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  if (role == "echo") {
    parent->on("message", [&](const json& m) { parent->send(m); });
  } else if (role == "sink") {  // counts until {"end": true}, then says how many it got
    std::size_t count = 0, bytes = 0;
    parent->on("message", [&](const json& m) {
      if (m.is_object() && m.contains("end")) {
        parent->send({{"count", count}, {"bytes", bytes}});
        return;
      }
      if (m.is_object() && m.contains("pause")) return;  // the sender's marker, not a message
      ++count;
      if (m.is_string()) bytes += m.get_ref<const std::string&>().size();
      if (m.is_binary()) bytes += m.get_binary().size();
    });
  } else if (role == "hello") {
    parent->send("hello");
    return 0;  // the message is written before the process ends
  }
  io.run();
  return 0;
}

std::string self_path() { return std::filesystem::canonical("/proc/self/exe").string(); }

void roundtrip(std::size_t count, bool split) {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, self_path(), {"echo"});
  if (split) {
    pin_to(0, 0);
    pin_to(child->pid(), 1);
  }
  const json message = {{"n", 12345}};
  const std::size_t warmup = count / 10;
  std::vector<double> latencies;
  latencies.reserve(count);
  std::size_t sent = 0;
  auto start = clock_type::now();
  child->on("message", [&](const json&) {
    if (sent > warmup) latencies.push_back(seconds_since(start) * 1e6);
    if (sent == warmup + count) return child->disconnect();
    ++sent;
    start = clock_type::now();
    child->send(message);
  });
  ++sent;
  child->send(message);
  io.run();
  const std::string where = split ? "split CPUs" : "same CPU";
  report("roundtrip " + where + " median", percentile(latencies, 0.5), "us");
  report("roundtrip " + where + " p99", percentile(latencies, 0.99), "us");
}

// Sends count copies of message as fast as backpressure allows: while send() returns true, and
// after a false, from the moment that message is written. message must outlive the sending (it
// is not copied: a copy of a 64 MiB value would be timed with the sends).
void send_with_backpressure(forkipc::child_process& child, const json& message, std::size_t count,
                            std::function<void()> done) {
  auto remaining = std::make_shared<std::size_t>(count);
  auto pump = std::make_shared<std::function<void()>>();
  *pump = [&child, &message, remaining, pump, done] {
    while (*remaining > 0) {
      --*remaining;
      if (!child.send(message, *remaining == 0 ? [done](std::error_code) { done(); }
                                                : std::function<void(std::error_code)>{})) {
        if (*remaining == 0) return;
        // Above the high-water mark: a marker whose on_sent tells when the queue has drained.
        child.send(json{{"pause", true}}, [pump](std::error_code ec) {
          if (!ec) (*pump)();
        });
        return;
      }
    }
  };
  (*pump)();
}

void one_way(const std::string& shape, std::size_t count, const json& message,
             forkipc::fork_options options = {}) {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, self_path(), {"sink"}, options);
  json result;
  child->on("message", [&](const json& m) {
    result = m;
    child->disconnect();
  });
  const auto start = clock_type::now();
  send_with_backpressure(*child, message, count, [&] { child->send({{"end", true}}); });
  io.run();
  const double elapsed = seconds_since(start);
  if (message.is_string() || message.is_binary()) {
    report(shape, static_cast<double>(result["bytes"].get<std::size_t>()) / elapsed / 1e6, "MB/s");
  } else {
    report(shape, static_cast<double>(result["count"].get<std::size_t>()) / elapsed, "msg/s");
    report(shape + " sender peak RSS", peak_rss_mb(), "MB");
  }
}

void spawn(std::size_t count) {
  boost::asio::io_context io;
  std::vector<double> times;
  const std::string path = self_path();
  for (std::size_t i = 0; i < count; ++i) {
    const auto start = clock_type::now();
    auto child = forkipc::fork(io, path, {"hello"});
    child->once("message", [&] { times.push_back(seconds_since(start) * 1e3); });
    io.restart();
    io.run();
  }
  report("fork to first message median", percentile(times, 0.5), "ms");
}

}  // namespace

int main(int argc, char** argv) {
  if (forkipc::has_parent()) return child_main(argc > 1 ? argv[1] : "");
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto number = [&](std::size_t i) { return static_cast<std::size_t>(std::stoull(args.at(i))); };
  try {
    const std::string& shape = args.at(0);
    if (shape == "roundtrip") {
      roundtrip(number(1), args.size() > 2 && args[2] == "--split");
    } else if (shape == "stream") {
      one_way("stream small", number(1), json{{"n", 12345}});
    } else if (shape == "big") {
      one_way("stream " + std::to_string(number(2) >> 20) + " MiB strings", number(1), std::string(number(2), 'x'));
    } else if (shape == "stream-binary") {
      one_way("stream small binary", number(1), json{{"n", 12345}},
              {.serialization = forkipc::serialization::binary});
    } else if (shape == "binary") {
      const bool through_socket = args.size() > 3 && args[3] == "--inline";
      forkipc::fork_options options{.serialization = forkipc::serialization::binary};
      if (through_socket) options.shared_memory_threshold = 0;
      one_way("binary " + std::to_string(number(2) >> 20) + " MiB" + (through_socket ? " via socket" : ""),
              number(1), json::binary(std::vector<std::uint8_t>(number(2), 'x')), options);
    } else if (shape == "spawn") {
      spawn(number(1));
    } else {
      throw std::invalid_argument("unknown shape " + shape);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_forkipc: " << e.what() << "\n"
              << "usage: bench_forkipc roundtrip N [--split] | stream N | stream-binary N | big N BYTES"
                 " | binary N BYTES [--inline] | spawn N\n";
    return 2;
  }
}
