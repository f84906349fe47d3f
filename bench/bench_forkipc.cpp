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
//   bench_forkipc recycle N [--zygote]    a pool of 2 workers recycled after every request: req/s
//   bench_forkipc spawn N [--zygote]      fork() (or zygote::fork()) to the child's first
//                                         message: median, in ms
//   bench_forkipc stream-bytes N          N send_bytes() of 16 bytes one way: messages/s, and
//                                         both sides' peak RSS in MB
//   bench_forkipc idle SECONDS            a channel left idle after one round trip: the CPU
//                                         time each side used meanwhile, in % of one CPU
//
// --split puts the parent on CPU 0 and the child on CPU 1; without it the caller decides (the
// driver runs everything under `taskset -c 0` for the same-CPU figures). --shm runs the channel
// on the shared-memory transport (binary serialization), --bytes makes roundtrip's message 16
// bytes sent with send_bytes (binary serialization). Each figure is printed as one JSON line:
// {"shape": ..., "value": ..., "unit": ...}.
#include <forkipc/forkipc.hpp>

#include <boost/asio/steady_timer.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <span>
#include <sstream>
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
  if (role == "serve") {  // a pool worker that answers each request with itself
    forkipc::serve([](const json& request) { return request; });
    return 0;
  }
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  if (role == "echo") {
    parent->on("message", [&](const json& m) { parent->send(m); });
    parent->on("bytes", [&](std::span<const std::byte> b) { parent->send_bytes(b); });
  } else if (role == "sink") {  // counts until {"end": true}, then says how many it got
    std::size_t count = 0, bytes = 0;
    parent->on("bytes", [&](std::span<const std::byte> b) {
      ++count;
      bytes += b.size();
    });
    parent->on("message", [&](const json& m) {
      if (m.is_object() && m.contains("end")) {
        parent->send({{"count", count}, {"bytes", bytes}, {"peak_rss_mb", peak_rss_mb()}});
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

// What the flags after a shape's numbers ask for.
struct flags {
  bool split = false;  // parent on CPU 0, child on CPU 1
  bool shm = false;    // the shared-memory transport, in binary serialization
  bool bytes = false;  // send_bytes instead of a json message, in binary serialization

  forkipc::fork_options options() const {
    forkipc::fork_options o;
    if (shm || bytes) o.serialization = forkipc::serialization::binary;
    if (shm) o.transport = forkipc::transport::shared_memory;
    return o;
  }
  // What the shape's name says of them: "", " (shm)", " (bytes)", " (shm, bytes)".
  std::string suffix() const {
    if (!shm && !bytes) return "";
    return std::string(" (") + (shm ? "shm" : "") + (shm && bytes ? ", " : "") + (bytes ? "bytes" : "") + ")";
  }
};

constexpr std::array<std::byte, 16> sixteen_bytes{};

void roundtrip(std::size_t count, const flags& f) {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, self_path(), {"echo"}, f.options());
  if (f.split) {
    pin_to(0, 0);
    pin_to(child->pid(), 1);
  }
  const json message = {{"n", 12345}};
  const std::size_t warmup = count / 10;
  std::vector<double> latencies;
  latencies.reserve(count);
  std::size_t sent = 0;
  auto start = clock_type::now();
  const auto send_next = [&] {
    ++sent;
    start = clock_type::now();
    if (f.bytes) {
      child->send_bytes(sixteen_bytes);
    } else {
      child->send(message);
    }
  };
  const auto on_answer = [&] {
    if (sent > warmup) latencies.push_back(seconds_since(start) * 1e6);
    if (sent == warmup + count) return child->disconnect();
    send_next();
  };
  child->on("message", [&](const json&) { on_answer(); });
  child->on("bytes", [&](std::span<const std::byte>) { on_answer(); });
  send_next();
  io.run();
  const std::string where = (f.split ? "split CPUs" : "same CPU") + f.suffix();
  report("roundtrip " + where + " median", percentile(latencies, 0.5), "us");
  report("roundtrip " + where + " p99", percentile(latencies, 0.99), "us");
}

// A child's CPU time so far (user and system), from /proc/PID/stat, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)  // utime is field 14, stime 15
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void idle(std::size_t seconds, const flags& f) {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, self_path(), {"echo"}, f.options());
  boost::asio::steady_timer timer(io);
  double child_before = 0, self_before = 0;
  child->once("message", [&] {
    // Past the spin window of both ends: from now on the channel is idle.
    child_before = cpu_seconds(child->pid());
    self_before = cpu_seconds(::getpid());
    timer.expires_after(std::chrono::seconds(seconds));
    timer.async_wait([&](boost::system::error_code) {
      const double span = static_cast<double>(seconds);
      report("idle channel CPU, child" + f.suffix(), 100 * (cpu_seconds(child->pid()) - child_before) / span, "%");
      report("idle channel CPU, parent" + f.suffix(), 100 * (cpu_seconds(::getpid()) - self_before) / span, "%");
      child->disconnect();
    });
  });
  child->send(json{{"n", 1}});
  io.run();
}

// Sends count messages with send_one as fast as backpressure allows: while it returns true, and
// after a false, from the moment that message is written.
using send_function = std::function<bool(forkipc::child_process&, std::function<void(std::error_code)>)>;
void send_with_backpressure(forkipc::child_process& child, const send_function& send_one, std::size_t count,
                            std::function<void()> done) {
  auto remaining = std::make_shared<std::size_t>(count);
  auto pump = std::make_shared<std::function<void()>>();
  *pump = [&child, &send_one, remaining, pump, done] {
    while (*remaining > 0) {
      --*remaining;
      if (!send_one(child, *remaining == 0 ? [done](std::error_code) { done(); }
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

// count sends one way, to a child that counts them. message must outlive the sending (it is
// not copied: a copy of a 64 MiB value would be timed with the sends).
void one_way(const std::string& shape, std::size_t count, const send_function& send_one, bool count_bytes,
             forkipc::fork_options options = {}) {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, self_path(), {"sink"}, options);
  json result;
  child->on("message", [&](const json& m) {
    result = m;
    child->disconnect();
  });
  const auto start = clock_type::now();
  send_with_backpressure(*child, send_one, count, [&] { child->send({{"end", true}}); });
  io.run();
  const double elapsed = seconds_since(start);
  if (count_bytes) {
    report(shape, static_cast<double>(result["bytes"].get<std::size_t>()) / elapsed / 1e6, "MB/s");
  } else {
    report(shape, static_cast<double>(result["count"].get<std::size_t>()) / elapsed, "msg/s");
    report(shape + " sender peak RSS", peak_rss_mb(), "MB");
    report(shape + " receiver peak RSS", result["peak_rss_mb"].get<double>(), "MB");
  }
}

void one_way(const std::string& shape, std::size_t count, const json& message, forkipc::fork_options options = {}) {
  const auto send_one = [&message](forkipc::child_process& child, std::function<void(std::error_code)> on_sent) {
    return child.send(message, std::move(on_sent));
  };
  one_way(shape, count, send_one, message.is_string() || message.is_binary(), options);
}

// fork() (or zygote::fork(), from a zygote of this program started before the clock runs) to the
// child's first message.
void spawn(std::size_t count, bool from_zygote) {
  boost::asio::io_context io;
  std::vector<double> times;
  const std::string path = self_path();
  std::optional<forkipc::zygote> zygote;
  if (from_zygote) {
    zygote.emplace(io, path, std::vector<std::string>{"hello"});
    zygote->fork();  // the zygote's own start-up, untimed
    io.run();
  }
  for (std::size_t i = 0; i < count; ++i) {
    const auto start = clock_type::now();
    auto child = zygote ? zygote->fork() : forkipc::fork(io, path, {"hello"});
    child->once("message", [&] { times.push_back(seconds_since(start) * 1e3); });
    io.restart();
    io.run();
  }
  report(from_zygote ? "zygote fork to first message median" : "fork to first message median",
         percentile(times, 0.5), "ms");
}

// A pool of 2 workers, each recycled after one request (max_requests_per_worker 1), spawned or
// forked by a zygote: requests a second, N of them, 4 at a time. Each request costs a worker start.
void recycle(std::size_t count, bool from_zygote) {
  boost::asio::io_context io;
  forkipc::pool pool(io, self_path(), {"serve"}, {.workers = 2, .max_requests_per_worker = 1, .zygote = from_zygote});
  std::size_t sent = 0, answered = 0;
  std::function<void()> send_next = [&] {
    pool.async_request(json(sent++), [&](std::error_code ec, json) {
      if (ec) throw std::runtime_error("a request failed: " + ec.message());
      if (++answered == count) pool.close();
      else if (sent < count) send_next();
    });
  };
  bool ready = false;
  pool.async_wait_ready([&](std::error_code) { ready = true; });
  while (!ready) io.run_one();  // the workers' (and the zygote's) first start, untimed
  const auto start = clock_type::now();
  for (int i = 0; i < 4 && sent < count; ++i) send_next();
  while (answered < count) io.run_one();
  report(from_zygote ? "pool recycling every request (zygote)" : "pool recycling every request",
         static_cast<double>(count) / seconds_since(start), "req/s");
  io.run();
}

}  // namespace

int main(int argc, char** argv) {
  if (forkipc::has_parent()) return child_main(argc > 1 ? argv[1] : "");
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto number = [&](std::size_t i) { return static_cast<std::size_t>(std::stoull(args.at(i))); };
  flags f;
  for (const std::string& arg : args) {
    if (arg == "--split") f.split = true;
    if (arg == "--shm") f.shm = true;
    if (arg == "--bytes") f.bytes = true;
  }
  try {
    const std::string& shape = args.at(0);
    if (shape == "roundtrip") {
      roundtrip(number(1), f);
    } else if (shape == "stream") {
      one_way("stream small", number(1), json{{"n", 12345}});
    } else if (shape == "big") {
      one_way("stream " + std::to_string(number(2) >> 20) + " MiB strings", number(1), std::string(number(2), 'x'));
    } else if (shape == "stream-binary") {
      one_way("stream small binary" + f.suffix(), number(1), json{{"n", 12345}},
              {.serialization = forkipc::serialization::binary});
    } else if (shape == "stream-bytes") {
      f.bytes = true;
      const auto send_one = [](forkipc::child_process& child, std::function<void(std::error_code)> on_sent) {
        return child.send_bytes(sixteen_bytes, std::move(on_sent));
      };
      one_way("stream 16-byte send_bytes" + (f.shm ? std::string(" (shm)") : std::string(" (socket)")), number(1),
              send_one, false, f.options());
    } else if (shape == "binary") {
      const bool through_socket = args.size() > 3 && args[3] == "--inline";
      forkipc::fork_options options{.serialization = forkipc::serialization::binary};
      if (through_socket) options.shared_memory_threshold = 0;
      one_way("binary " + std::to_string(number(2) >> 20) + " MiB" + (through_socket ? " via socket" : ""),
              number(1), json::binary(std::vector<std::uint8_t>(number(2), 'x')), options);
    } else if (shape == "spawn") {
      spawn(number(1), std::find(args.begin(), args.end(), "--zygote") != args.end());
    } else if (shape == "recycle") {
      recycle(number(1), std::find(args.begin(), args.end(), "--zygote") != args.end());
    } else if (shape == "idle") {
      idle(number(1), f);
    } else {
      throw std::invalid_argument("unknown shape " + shape);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_forkipc: " << e.what() << "\n"
              << "usage: bench_forkipc roundtrip N [--split] [--shm] [--bytes] | stream N | stream-binary N"
                 " | stream-bytes N [--shm] | big N BYTES | binary N BYTES [--inline] | spawn N [--zygote] | recycle N [--zygote]"
                 " | idle SECONDS [--shm]\n";
    return 2;
  }
}
