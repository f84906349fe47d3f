// The limit the channel benchmarks are measured against: the same shapes on a bare AF_UNIX
// socketpair, with no framing and no JSON: bytes in, bytes out. Same command line and output as
// bench_forkipc. The program is its own child (posix_spawn, channel on fd 3, role in argv[1]).
// Two shapes measure the host rather than a channel: `fork N` (a bare fork() to the child's first
// message, the floor of any zygote) and `pages N` (what a page costs, in a forked child too).
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int channel = 3;
const std::string small = "{\"n\":12345}\n";  // the same 12 bytes forkipc sends

void report(const std::string& shape, double value, const std::string& unit) {
  std::printf("{\"shape\":\"%s\",\"unit\":\"%s\",\"value\":%.6g}\n", shape.c_str(), unit.c_str(), value);
  std::fflush(stdout);
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    check(n > 0, "write");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Reads exactly size bytes; false at the end of the stream.
bool read_all(int fd, char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, size);
    if (n == 0) return false;
    check(n > 0, "read");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

struct child {
  pid_t pid;
  int fd;  // the parent's end
};

child start(const char* role) {
  int sv[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, sv[1], channel);
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  check(length > 0, "readlink");
  self[length] = '\0';
  char* argv[] = {self, const_cast<char*>(role), nullptr};
  pid_t pid;
  check(::posix_spawn(&pid, self, &actions, nullptr, argv, environ) == 0, "posix_spawn");
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  return {pid, sv[0]};
}

// start()'s counterpart without exec: a fork() of this process (single-threaded, so a plain
// fork is safe) that runs body(its end of the channel), then ends.
template <class Body>
child fork_running(Body body) {
  int sv[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
  const pid_t pid = ::fork();
  check(pid >= 0, "fork");
  if (pid == 0) {
    body(sv[1]);
    ::_exit(0);
  }
  ::close(sv[1]);
  return {pid, sv[0]};
}

void finish(child& c) {
  ::close(c.fd);
  ::waitpid(c.pid, nullptr, 0);
}

void pin_to(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(pid, sizeof set, &set);
}

// VmHWM, not ru_maxrss, which Linux carries over execve from the process that forked us.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // in kB
  return 0;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

int child_main(const std::string& role) {
  if (role == "echo") {
    char buffer[12];
    while (read_all(channel, buffer, sizeof buffer)) write_all(channel, buffer, sizeof buffer);
  } else if (role == "sink") {  // counts bytes to the end of the stream, then answers the count
    std::vector<char> buffer(1 << 20);
    std::uint64_t total = 0;
    for (ssize_t n; (n = ::read(channel, buffer.data(), buffer.size())) > 0;) total += static_cast<std::uint64_t>(n);
    write_all(channel, reinterpret_cast<const char*>(&total), sizeof total);
  } else if (role == "hello") {
    write_all(channel, small.data(), small.size());
  }
  return 0;
}

void roundtrip(std::size_t count, bool split) {
  child c = start("echo");
  if (split) {
    pin_to(0, 0);
    pin_to(c.pid, 1);
  }
  std::vector<double> latencies;
  char buffer[12];
  for (std::size_t i = 0; i < count + count / 10; ++i) {
    const auto begin = clock_type::now();
    write_all(c.fd, small.data(), small.size());
    read_all(c.fd, buffer, sizeof buffer);
    if (i >= count / 10) latencies.push_back(seconds_since(begin) * 1e6);
  }
  finish(c);
  const std::string where = split ? "split CPUs" : "same CPU";
  report("roundtrip " + where + " median", percentile(latencies, 0.5), "us");
  report("roundtrip " + where + " p99", percentile(latencies, 0.99), "us");
}

// Sends count messages of message_size bytes each, in writes of up to 64 KiB (many small
// messages per write; a large message in as many writes as it takes).
void one_way(const std::string& shape, std::size_t count, std::size_t message_size, bool per_message) {
  child c = start("sink");
  const auto begin = clock_type::now();
  if (message_size < 65536) {
    std::string batch;
    batch.reserve(65536 + message_size);
    for (std::size_t i = 0; i < count; ++i) {
      batch.append(small);
      if (batch.size() >= 65536) {
        write_all(c.fd, batch.data(), batch.size());
        batch.clear();
      }
    }
    write_all(c.fd, batch.data(), batch.size());
  } else {
    const std::string message(message_size, 'x');
    for (std::size_t i = 0; i < count; ++i) write_all(c.fd, message.data(), message.size());
  }
  ::shutdown(c.fd, SHUT_WR);
  std::uint64_t received = 0;
  read_all(c.fd, reinterpret_cast<char*>(&received), sizeof received);
  const double elapsed = seconds_since(begin);
  finish(c);
  if (per_message) {
    report(shape, static_cast<double>(received / message_size) / elapsed, "msg/s");
    report(shape + " sender peak RSS", peak_rss_mb(), "MB");
  } else {
    report(shape, static_cast<double>(received) / elapsed / 1e6, "MB/s");
  }
}

void spawn(std::size_t count) {
  std::vector<double> times;
  char buffer[12];
  for (std::size_t i = 0; i < count; ++i) {
    const auto begin = clock_type::now();
    child c = start("hello");
    read_all(c.fd, buffer, sizeof buffer);
    times.push_back(seconds_since(begin) * 1e3);
    finish(c);
  }
  report("fork to first message median", percentile(times, 0.5), "ms");
}

// The floor of any zygote on this host: a bare fork() of this small program (no exec, no loader)
// to the child's first message on a socketpair, against the posix_spawn of `spawn`.
void fork_only(std::size_t count) {
  std::vector<double> times;
  char buffer[12];
  for (std::size_t i = 0; i < count; ++i) {
    const auto begin = clock_type::now();
    child c = fork_running([](int fd) { write_all(fd, small.data(), small.size()); });
    read_all(c.fd, buffer, sizeof buffer);
    times.push_back(seconds_since(begin) * 1e3);
    finish(c);
  }
  report("bare fork to first message median", percentile(times, 0.5), "ms");
}

// What a page costs on this host, in microseconds each, over `count` pages: read again while
// mapped (a TLB miss at most); first touched (a zero-filled page fault); first read in a forked
// child, whose entry fork() copied (no guest page fault: on bare metal a TLB miss, under a
// hypervisor that shadows page tables an exit to it); first written in that child (a
// copy-on-write fault). A zygote's child pays the last two for each page it uses.
void page_costs(std::size_t count) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* mapped = ::mmap(nullptr, count * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check(mapped != MAP_FAILED, "mmap");
  volatile char* pages = static_cast<volatile char*>(mapped);
  const auto per_page = [&](auto touch) {
    const auto begin = clock_type::now();
    for (std::size_t i = 0; i < count; ++i) touch(pages[i * page]);
    return seconds_since(begin) * 1e6 / static_cast<double>(count);
  };
  const auto read = [](volatile char& c) {
    const char value = c;  // a volatile read: done, though unused
    static_cast<void>(value);
  };
  const auto write = [](volatile char& c) { c = 1; };
  report("page first touched", per_page(write), "us");
  report("page read again", per_page(read), "us");
  child c = fork_running([&](int fd) {
    const double costs[] = {per_page(read), per_page(write)};
    write_all(fd, reinterpret_cast<const char*>(costs), sizeof costs);
  });
  double costs[2];
  check(read_all(c.fd, reinterpret_cast<char*>(costs), sizeof costs), "the child's figures");
  finish(c);
  ::munmap(mapped, count * page);
  report("page first read in a forked child", costs[0], "us");
  report("page first written in a forked child", costs[1], "us");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "echo" || args[0] == "sink" || args[0] == "hello")) return child_main(args[0]);
  try {
    const auto number = [&](std::size_t i) { return static_cast<std::size_t>(std::stoull(args.at(i))); };
    const std::string& shape = args.at(0);
    if (shape == "roundtrip") {
      roundtrip(number(1), args.size() > 2 && args[2] == "--split");
    } else if (shape == "stream") {
      one_way("stream small", number(1), small.size(), true);
    } else if (shape == "big") {
      one_way("stream " + std::to_string(number(2) >> 20) + " MiB strings", number(1), number(2), false);
    } else if (shape == "binary") {  // bytes are bytes here: the limit for binary values too
      const std::string suffix = args.size() > 3 && args[3] == "--inline" ? " via socket" : "";
      one_way("binary " + std::to_string(number(2) >> 20) + " MiB" + suffix, number(1), number(2), false);
    } else if (shape == "stream-binary") {
      one_way("stream small binary", number(1), small.size(), true);
    } else if (shape == "spawn") {
      spawn(number(1));
    } else if (shape == "fork") {
      fork_only(number(1));
    } else if (shape == "pages") {
      page_costs(number(1));
    } else {
      throw std::invalid_argument("unknown shape " + shape);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_raw: " << e.what() << "\n";
    return 2;
  }
}
