// examples/sum_server over real HTTP: the server runs as it would for a user, and a Beast
// client talks to it on the port it prints.
#include "support.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

const std::string sum_server = FORKIPC_EXAMPLES "/sum_server/sum_server";
const std::string default_answer = "sumRes is 4999950000";

struct reply {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string allow;
};

// A connection to the server: requests on it are kept alive.
class client {
 public:
  explicit client(unsigned short port) : stream_(io_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.expires_never();
  }

  reply get(const std::string& target, http::verb method = http::verb::get) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "localhost");
    request.keep_alive(true);
    http::write(stream_, request);
    return read();
  }

  // Bytes that are not HTTP; the answer the server gives them.
  reply raw(const std::string& bytes) {
    asio::write(stream_, asio::buffer(bytes));
    return read();
  }

  // Waits, up to timeout, for the server to close the connection: true when it did.
  bool closed_by_server(std::chrono::milliseconds timeout) {
    const int fd = stream_.socket().native_handle();
    const timeval limit{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    char byte;
    return ::recv(fd, &byte, 1, 0) == 0;
  }

 private:
  reply read() {
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response);
    return {response.result_int(), response.body(), std::string(response[http::field::content_type]),
            std::string(response[http::field::allow])};
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

reply get(unsigned short port, const std::string& target) { return client(port).get(target); }

// A server started as a user would, with its output read for the port it prints: sum_server
// with args after --port 0, or another program as options say.
class server {
 public:
  explicit server(std::vector<std::string> args) : server(sum_server, prefixed({"--port", "0"}, args), {}) {}

  server(const std::string& program, std::vector<std::string> args, forkipc::fork_options options) {
    options.silent = true;
    process_ = forkipc::fork(io_, program, args, options);
    process_->on("stdout", [this](std::string_view data) { out_ += data; });
    process_->on("stderr", [this](std::string_view data) { err_ += data; });
    process_->on("exit", [this](std::optional<int> code, std::optional<int> signal) { end_ = {code, signal}; });
    static const std::regex listening("server running at port (\\d+)\n");
    std::smatch match;
    test::run_until(io_, [&] { return std::regex_search(out_, match, listening) || end_; });
    REQUIRE_MESSAGE(!end_, "sum_server ended: " << err_);
    port_ = static_cast<unsigned short>(std::stoi(match[1]));
  }

  static std::vector<std::string> prefixed(std::vector<std::string> first, const std::vector<std::string>& then) {
    first.insert(first.end(), then.begin(), then.end());
    return first;
  }

  ~server() {
    if (end_) return;
    // A test that failed midway: kill it, and reap the children it orphans onto us.
    process_->kill(SIGKILL);
    test::run_to_end(io_);
    test::eventually("the orphans are reaped", [] {
      for (int pid : test::child_pids()) ::waitpid(pid, nullptr, WNOHANG);
      return test::child_pids().empty();
    });
  }

  unsigned short port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  std::vector<int> children() const { return test::child_pids(process_->pid()); }

  // SIGTERM, then the exit code once it has ended.
  std::optional<int> terminate() {
    process_->kill(SIGTERM);
    test::run_until(io_, [&] { return end_.has_value(); });
    INFO("stderr: " << err_);
    CHECK_FALSE(end_->second);
    return end_->first;
  }

 private:
  asio::io_context io_;
  std::shared_ptr<forkipc::child_process> process_;
  std::string out_, err_;
  std::optional<std::pair<std::optional<int>, std::optional<int>>> end_;
  unsigned short port_ = 0;
};

// Children a dead server left behind are reparented to us, where they can be counted.
const bool subreaper = ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;

}  // namespace

TEST_CASE("GET /sum answers sumRes is 4999950000, in both modes, on a kept-alive connection") {
  REQUIRE(subreaper);
  for (const char* mode : {"pool", "per-request"}) {
    CAPTURE(mode);
    server s({"--mode", mode});
    client c(s.port());
    for (int i = 0; i < 3; ++i) {
      const reply r = c.get("/sum");
      CHECK(r.status == 200);
      CHECK(r.body == default_answer);
      CHECK(r.content_type == "text/plain; charset=utf-8");
    }
    CHECK(s.terminate() == 0);
  }
  CHECK(test::child_pids().empty());
}

TEST_CASE("?n= sums 0..n-1 for 0 <= n <= 10^9; anything else is a 400 that says why") {
  server s({"--workers", "2"});
  client c(s.port());
  const std::vector<std::pair<std::string, std::string>> sums{
      {"0", "sumRes is 0"}, {"1", "sumRes is 0"}, {"2", "sumRes is 1"}, {"100000", default_answer},
      {"0100", "sumRes is 4950"}, {"1000000000", "sumRes is 499999999500000000"}};
  for (const auto& sum : sums) {
    const std::string& n = sum.first;  // not a structured binding: CAPTURE's lambda captures it
    const std::string& expected = sum.second;
    CAPTURE(n);
    const reply r = c.get("/sum?n=" + n);
    CHECK(r.status == 200);
    CHECK(r.body == expected);
  }
  for (const std::string bad : {"-1", "abc", "1000000001", "", "1.5", "99999999999999999999999", "1e3", "%201"}) {
    CAPTURE(bad);
    const reply r = c.get("/sum?n=" + bad);
    CHECK(r.status == 400);
    CHECK(r.body.find("n must be a whole number from 0 to 1000000000") != std::string::npos);
  }
  const reply other_parameter = c.get("/sum?x=1");
  CHECK(other_parameter.status == 400);
  CHECK(other_parameter.body.find("the only parameter of /sum is n") != std::string::npos);
  CHECK(c.get("/sum?").body == default_answer);
  CHECK(c.get("/other").status == 404);
  CHECK(c.get("/").status == 404);
  const reply post = c.get("/sum", http::verb::post);
  CHECK(post.status == 405);
  CHECK(post.allow == "GET");
  // A malformed request gets a 400, and the server goes on.
  CHECK(client(s.port()).raw("NOT HTTP AT ALL\r\n\r\n").status == 400);
  CHECK(client(s.port()).raw("GET /sum HTTP/1.1\r\nContent-Length: x\r\n\r\n").status == 400);
  CHECK(get(s.port(), "/sum").body == default_answer);
  CHECK(s.terminate() == 0);
}

TEST_CASE("GET /stats: the pool's counters as JSON, in pool mode only") {
  {
    server s({"--workers", "2", "--threads", "1"});
    client c(s.port());
    for (int i = 0; i < 5; ++i) REQUIRE(c.get("/sum?n=" + std::to_string(i + 10)).status == 200);
    CHECK(c.get("/sum?n=abc").status == 400);  // refused before the pool: not counted
    const reply r = c.get("/stats");
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    const auto stats = forkipc::json::parse(r.body);
    CHECK(stats["threads"] == 1);
    CHECK(stats["workers"] == 2);
    CHECK(stats["completed"] == 5);
    CHECK(stats["failed"] == 0);
    CHECK(stats["timed_out"] == 0);
    CHECK(stats["in_flight"] == 0);
    CHECK(stats["pending"] == 0);
    CHECK(stats["rejected"] == 0);
    CHECK(stats["restarts"] == 0);
    CHECK(stats["latency_p50_us"].get<long>() > 0);
    CHECK(stats["latency_p50_us"] <= stats["latency_p99_us"]);
    CHECK(s.terminate() == 0);
  }
  {
    server s({"--mode", "per-request"});
    CHECK(get(s.port(), "/stats").status == 404);
    CHECK(s.terminate() == 0);
  }
  CHECK(test::child_pids().empty());
}

TEST_CASE("per-request mode: 200 requests leave no child process behind, with --zygote too") {
  for (const bool zygote : {false, true}) {
    if (zygote && !test::linux_backend) break;  // the posix backend has no zygote
    CAPTURE(zygote);
    std::vector<std::string> args{"--mode", "per-request", "--threads", "1"};
    if (zygote) args.push_back("--zygote");
    server s(args);
    std::atomic<int> ok = 0;
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&] {
        try {
          client c(s.port());
          for (int i = 0; i < 50; ++i) ok += c.get("/sum").body == default_answer;
        } catch (const std::exception& e) {
          MESSAGE("the connection failed: " << e.what());
        }
      });
    }
    for (auto& t : clients) t.join();
    CHECK(ok == 200);
    // Each child exits once disconnected after its answer; none may stay but the zygote and the
    // spare it forked ahead for the next request, and no zombie.
    const std::size_t zygote_and_spare = zygote ? 2 : 0;
    test::eventually("the server has no child but its zygote and its spare", [&] {
      const auto children = s.children();
      return children.size() == zygote_and_spare &&
             std::none_of(children.begin(), children.end(), [](int pid) { return test::zombie(pid); });
    });
    CHECK(s.terminate() == 0);
    CHECK(test::child_pids().empty());
  }
}

TEST_CASE("pool mode: SIGKILLed workers are replaced, and requests keep succeeding") {
  server s({"--workers", "2"});
  REQUIRE(get(s.port(), "/sum").body == default_answer);
  test::eventually("2 workers", [&] { return s.children().size() == 2; });
  std::atomic<bool> stop = false;
  std::atomic<int> ok = 0, failed = 0;
  std::thread load([&] {
    try {
      client c(s.port());
      while (!stop) (c.get("/sum").body == default_answer ? ok : failed)++;
    } catch (const std::exception& e) {
      MESSAGE("the connection failed: " << e.what());
      failed += 1000;
    }
  });
  test::eventually("20 answers", [&] { return ok > 20; });
  for (int round = 0; round < 3; ++round) {  // kill every worker there is, three times over
    const auto killed = s.children();
    for (int pid : killed) ::kill(pid, SIGKILL);
    // The killed ones count until the server reaps them: 2 new ones, none of those.
    test::eventually("2 new workers", [&] {
      const auto now = s.children();
      return now.size() == 2 && std::none_of(now.begin(), now.end(), [&](int pid) {
               return std::find(killed.begin(), killed.end(), pid) != killed.end();
             });
    });
  }
  const int ok_before = ok;
  test::eventually("20 more answers", [&] { return ok > ok_before + 20; });  // and requests succeed after
  stop = true;
  load.join();
  CHECK(failed < 10);  // only requests in flight at a kill may fail (with a 500)
  CHECK(get(s.port(), "/sum").body == default_answer);
  CHECK(s.terminate() == 0);
  CHECK(test::child_pids().empty());
}

TEST_CASE("a crashed child gives 500, a slow one 504, in both modes") {
  const std::string odd = test::helper("odd_sum_child");
  for (const char* mode : {"pool", "per-request"}) {
    CAPTURE(mode);
    // The slow child never answers: any timeout gives the 504. It is long enough that neither
    // the crash nor the good sum after it (a fresh child in per-request mode) hits it on a busy
    // machine.
    server s({"--mode", mode, "--workers", "1", "--child", odd, "--timeout", "5000"});
    client c(s.port());
    const reply crashed = c.get("/sum?n=1");
    CHECK(crashed.status == 500);
    const reply slow = c.get("/sum?n=2");
    CHECK(slow.status == 504);
    CHECK(c.get("/sum?n=10").body == "sumRes is 45");  // and it goes on
    CHECK(s.terminate() == 0);
  }
  CHECK(test::child_pids().empty());
}

TEST_CASE("SIGTERM finishes the request in flight, lets the children exit, and exits 0") {
  const std::string odd = test::helper("odd_sum_child");
  const auto mark = std::filesystem::temp_directory_path() / ("forkipc-mark-" + std::to_string(::getpid()));
  ::setenv("ODD_SUM_CHILD_MARK", mark.c_str(), 1);  // the server's children inherit it
  for (const char* mode : {"pool", "per-request"}) {
    CAPTURE(mode);
    std::filesystem::remove(mark);
    server s({"--mode", mode, "--child", odd});
    std::optional<reply> slow;
    std::thread request([&] {
      try {
        slow = get(s.port(), "/sum?n=3");  // the child answers it after 500 ms
      } catch (const std::exception& e) {
        MESSAGE("the request failed: " << e.what());
      }
    });
    test::eventually("the request reached the child", [&] { return std::filesystem::exists(mark); });  // it is in the child now
    CHECK(s.terminate() == 0);
    request.join();
    REQUIRE(slow);
    CHECK(slow->status == 200);
    CHECK(slow->body == "sumRes is 3");
  }
  ::unsetenv("ODD_SUM_CHILD_MARK");
  std::filesystem::remove(mark);
  CHECK(test::child_pids().empty());
}

TEST_CASE("--threads 2: two loops on one port, each with its share of the workers; /stats adds them up") {
  server s({"--workers", "3", "--threads", "2"});
  // The port is printed before the second loop's thread starts, and the workers start on their own.
  test::eventually("a second thread", [&] {
    return std::distance(std::filesystem::directory_iterator("/proc/" + std::to_string(s.pid()) + "/task"),
                         std::filesystem::directory_iterator()) >= 2;
  });
  test::eventually("3 workers: two for one loop's pool, one for the other's", [&] { return s.children().size() == 3; });
  // Connections open together: the kernel spreads them over the two listening sockets.
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<client>(s.port()));
  for (int round = 0; round < 3; ++round)
    for (const auto& c : clients) REQUIRE(c->get("/sum").body == default_answer);
  const auto stats = forkipc::json::parse(get(s.port(), "/stats").body);
  CHECK(stats["threads"] == 2);
  CHECK(stats["workers"] == 3);
  CHECK(stats["completed"] == 24);
  CHECK(stats["failed"] == 0);
  CHECK(stats["in_flight"] == 0);
  CHECK(s.terminate() == 0);
  CHECK(test::child_pids().empty());
}

TEST_CASE("--idle-timeout: a connection that sends no request is closed once it has passed; one that keeps asking is not") {
  server s({"--workers", "1", "--idle-timeout", "2000"});
  // Before the idle one connects: its limit runs from the server's accept, later.
  const auto connected = std::chrono::steady_clock::now();
  client idle(s.port());
  client busy(s.port());
  // The idle one waits for its end on a thread of its own, while the busy one asks every 100 ms
  // for longer than the idle limit (a stall of almost 2 s between two requests would close it).
  std::optional<std::chrono::steady_clock::time_point> idle_closed;
  std::thread watch([&] {
    if (idle.closed_by_server(std::chrono::seconds(10))) idle_closed = std::chrono::steady_clock::now();
  });
  struct join_at_exit {
    std::thread& thread;
    ~join_at_exit() {
      if (thread.joinable()) thread.join();
    }
  } joined{watch};
  for (int i = 0; i < 25; ++i) {
    REQUIRE(busy.get("/sum").body == default_answer);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  watch.join();
  REQUIRE(idle_closed);
  CHECK(*idle_closed - connected >= std::chrono::milliseconds(2000));
  CHECK(busy.get("/sum").body == default_answer);
  CHECK(s.terminate() == 0);
}

TEST_CASE("bad command lines are refused with a reason") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--mode", "fast"},
                                             {"--port", "http"}, {"--workers"}, {"--bogus", "1"},
                                             {"--threads", "0"}, {"--idle-timeout", "0"}}) {
    forkipc::sync::child bad(sum_server, args, {.silent = true});
    CHECK(bad.wait() == std::pair<std::optional<int>, std::optional<int>>{2, std::nullopt});
  }
}

TEST_CASE("the seed's own Node server, pointed at sum_child through execPath, answers") {
  std::map<std::string, std::string> env{{"PORT", "0"}, {"SUM_CHILD", FORKIPC_EXAMPLES "/sum_server/sum_child"}};
  if (const char* path = std::getenv("PATH")) env["PATH"] = path;
  server seed(FORKIPC_SOURCE_EXAMPLES "/sum_server/seed/main.js", {}, {.env = env, .exec_path = "node"});
  const reply r = get(seed.port(), "/sum");
  CHECK(r.status == 200);
  CHECK(r.body == default_answer);
  // The seed's defect, which sum_server does not have: its child is still running.
  CHECK(test::child_pids(seed.pid()).size() == 1);
  // ~server kills the seed and reaps the orphans; the children exit as their channel closes.
}

TEST_CASE("the cluster example: each connection is handed to a worker, which answers on it") {
  const std::string cluster_server = FORKIPC_EXAMPLES "/cluster/cluster_server";
  server cluster(cluster_server, {"--port", "0", "--workers", "2"}, {});
  std::set<std::string> answered_by;
  for (int i = 0; i < 40; ++i) {
    const reply r = get(cluster.port(), "/");
    REQUIRE(r.status == 200);
    CHECK(r.body.rfind("hello from worker ", 0) == 0);
    answered_by.insert(r.body);
  }
  const auto workers = cluster.children();
  CHECK(workers.size() == 2);
  CHECK(answered_by.size() == 2);  // round robin: both workers answered
  // A worker that dies is replaced, and connections keep being answered.
  ::kill(workers.front(), SIGKILL);
  test::eventually("the dead worker is replaced", [&] {
    const auto now = cluster.children();
    return now.size() == 2 && std::find(now.begin(), now.end(), workers.front()) == now.end();
  });
  for (int i = 0; i < 10; ++i) CHECK(get(cluster.port(), "/").status == 200);
  CHECK(cluster.terminate() == 0);
  CHECK(test::child_pids().empty());  // no worker outlived it (one would be ours: subreaper)
}
