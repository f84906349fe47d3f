// A program for forkipc::zygote in the tests. Its start-up appends a line to the file argv[1]
// (so the test can count how many start-ups ran) and seeds a generator, then it enters forkipc's
// child side the way argv[2] says: "sync" (sync::parent), "async" (has_parent(), then parent()
// on an io_context), "serve" (a pool worker on forkipc::serve), "thread" (starts a thread
// first, which a zygote must refuse), or "holder" (as "sync", after forking a process that keeps
// a copy of fd 3, the zygote's channel, until a signal ends it; its pid in the file argv[1] with
// ".holder" after it). Then it
// answers each message {"op": ...} with a value:
//   "pid", "ppid"       its pid, its parent's pid
//   "echo" (value)      value
//   "startups"          how many start-ups the file counts
//   "random"            the first number its start-up's generator gives
//   "alloc" (mib)       "ok" once it allocated and touched that many MiB, or "bad_alloc"
//   "fds"               how many descriptors it has open
//   "limits"            {"nofile": RLIMIT_NOFILE, "cpu": RLIMIT_CPU, "nnp": PR_GET_NO_NEW_PRIVS}
//   "exit" (code)       exits with code, answering nothing
//   "crash"             dies of SIGSEGV
//   "sleep"             sleeps until a signal ends it
#include <forkipc/forkipc.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::mt19937 generator;

forkipc::json answer(const forkipc::json& request, const std::string& startups) {
  const std::string op = request.at("op");
  if (op == "pid") return ::getpid();
  if (op == "ppid") return ::getppid();
  if (op == "echo") return request.at("value");
  if (op == "random") return generator();
  if (op == "startups") {
    std::ifstream in(startups);
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }
  if (op == "fds") {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  }
  if (op == "limits") {
    rlimit files{}, cpu{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    ::getrlimit(RLIMIT_CPU, &cpu);
    return {{"nofile", files.rlim_cur}, {"cpu", cpu.rlim_cur}, {"nnp", ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)}};
  }
  if (op == "alloc") {
    try {
      std::vector<char> block(std::size_t{request.at("mib").get<unsigned>()} << 20);
      for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;  // touched, so resident
      return "ok";
    } catch (const std::bad_alloc&) {
      return "bad_alloc";
    }
  }
  if (op == "exit") std::exit(request.at("code").get<int>());
  if (op == "crash") {
    ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn the crash into exit(1)
    ::raise(SIGSEGV);
  }
  if (op == "sleep") {
    for (;;) ::pause();
  }
  return "unknown op " + op;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string startups = argv[1], entry = argv[2];
  std::ofstream(startups, std::ios::app) << ::getpid() << "\n";
  generator.seed(std::random_device()());
  if (entry == "thread") {  // a second thread, alive at the first call into forkipc's child side
    std::thread([] {
      for (;;) ::pause();
    }).detach();
  }
  if (entry == "holder") {  // single-threaded here: a plain fork is safe
    const pid_t holder = ::fork();
    if (holder == 0) {
      for (;;) ::pause();
    }
    std::ofstream(startups + ".holder") << holder << "\n";
  }
  if (entry == "async") {
    if (!forkipc::has_parent()) return 3;
    boost::asio::io_context io;
    auto parent = forkipc::parent(io);
    parent->on("message", [&](const forkipc::json& m) { parent->send(answer(m, startups)); });
    io.run();
    return 0;
  }
  if (entry == "serve") {
    forkipc::serve([&](const forkipc::json& request) { return answer(request, startups); });
    return 0;
  }
  forkipc::sync::parent parent;
  while (auto message = parent.receive()) parent.send(answer(*message, startups));
}
