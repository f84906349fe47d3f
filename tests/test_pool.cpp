// forkipc::pool and forkipc::serve, with real worker processes.
#include "support.hpp"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <set>
#include <thread>

using forkipc::json;
using test::helper;
using namespace std::chrono_literals;

namespace {

json op(const std::string& name) { return {{"op", name}}; }
json sleep_for(int ms) { return {{"op", "sleep"}, {"ms", ms}}; }

struct result {
  std::error_code ec;
  json reply;
  bool done = false;
};

// Sends message and records the outcome in r.
void request(forkipc::pool& pool, const json& message, result& r) {
  pool.async_request(message, [&r](std::error_code ec, json reply) {
    r.ec = ec;
    r.reply = std::move(reply);
    r.done = true;
  });
}

forkipc::pool_options workers(std::size_t n, std::chrono::milliseconds timeout = 0ms) {
  return {.workers = n, .request_timeout = timeout};
}

}  // namespace

TEST_CASE("requests complete through callbacks, spread over the workers") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  CHECK(pool.size() == 2);
  std::vector<result> results(200);
  for (int i = 0; i < 200; ++i) request(pool, {{"op", "echo"}, {"value", {{"i", i}}}}, results[i]);
  std::vector<result> pids(20);
  for (auto& r : pids) request(pool, op("pid"), r);
  test::run_until(io, [&] {
    return std::all_of(results.begin(), results.end(), [](auto& r) { return r.done; }) &&
           std::all_of(pids.begin(), pids.end(), [](auto& r) { return r.done; });
  });
  for (int i = 0; i < 200; ++i) {
    CHECK_FALSE(results[i].ec);
    CHECK(results[i].reply == json{{"i", i}});
  }
  std::set<int> distinct;
  for (auto& r : pids) distinct.insert(r.reply.get<int>());
  CHECK(distinct.size() == 2);
  pool.close();
  test::run_to_end(io);
  CHECK(test::child_pids().empty());
}

TEST_CASE("use_future: the future holds (error_code, reply)") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::future<std::tuple<std::error_code, json>> answer;
  std::future<std::tuple<std::error_code, json>> failure;
  boost::asio::post(io, [&] {  // pool's members belong to the io_context's thread
    answer = pool.async_request({{"op", "echo"}, {"value", "via a future"}}, boost::asio::use_future);
    failure = pool.async_request(op("throw"), boost::asio::use_future);
  });
  // The futures exist once the posted handler ran; wait for that through a third one.
  std::promise<void> posted;
  boost::asio::post(io, [&] { posted.set_value(); });
  posted.get_future().wait();
  REQUIRE(answer.wait_for(30s) == std::future_status::ready);
  const auto [ec, reply] = answer.get();
  CHECK_FALSE(ec);
  CHECK(reply == "via a future");
  REQUIRE(failure.wait_for(30s) == std::future_status::ready);
  const auto [failed, message] = failure.get();
  CHECK(failed == forkipc::errc::request_failed);
  CHECK(message == "asked to throw");
  boost::asio::post(io, [&] { pool.close(); });
  work.reset();
  runner.join();
  CHECK(test::child_pids().empty());
}

TEST_CASE("use_awaitable: a coroutine awaits (error_code, reply)") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  std::vector<json> replies;
  std::vector<std::error_code> codes;
  std::error_code failure;
  bool finished = false;
  // g++ 12 cannot keep a braced initializer list alive across co_await ("array used as
  // initializer"): each message is built before the co_await that sends it.
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        for (int i = 0; i < 10; ++i) {
          const json message = {{"op", "echo"}, {"value", i}};
          const std::tuple<std::error_code, json> answer =
              co_await pool.async_request(message, boost::asio::use_awaitable);
          codes.push_back(std::get<0>(answer));
          replies.push_back(std::get<1>(answer));
        }
        const auto answer = co_await pool.async_request(op("throw"), boost::asio::use_awaitable);
        failure = std::get<0>(answer);
        finished = true;
        pool.close();
      },
      boost::asio::detached);
  test::run_to_end(io);
  CHECK(finished);
  CHECK(replies == std::vector<json>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(codes == std::vector<std::error_code>(10));
  CHECK(failure == forkipc::errc::request_failed);
}

TEST_CASE("many requests in flight on one worker are matched to their replies") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(1));
  std::vector<result> results(1000);
  for (int i = 0; i < 1000; ++i) request(pool, {{"op", "echo"}, {"value", i}}, results[i]);
  test::run_until(io, [&] { return std::all_of(results.begin(), results.end(), [](auto& r) { return r.done; }); });
  for (int i = 0; i < 1000; ++i) CHECK(results[i].reply == i);
  pool.close();
  test::run_to_end(io);
}

TEST_CASE("a request goes to the least loaded worker") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  result busy;
  request(pool, sleep_for(3000), busy);  // holds one worker
  // One after the other, each finds the busy worker at 1 in flight and the other at 0.
  std::set<int> pids;
  int answered = 0;
  std::function<void()> next = [&] {
    pool.async_request(op("pid"), [&](std::error_code ec, json pid) {
      CHECK_FALSE(ec);
      pids.insert(pid.get<int>());
      if (++answered < 10) next();
    });
  };
  next();
  test::run_until(io, [&] { return answered == 10; });
  CHECK(pids.size() == 1);
  CHECK_FALSE(busy.done);  // all ten were answered while the sleeper slept
  test::run_until(io, [&] { return busy.done; });
  CHECK(pids.count(busy.reply.get<int>()) == 0);
  pool.close();
  test::run_to_end(io);
}

TEST_CASE("a handler that throws gives request_failed, and its worker goes on") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(1));
  result before, failed, after;
  request(pool, op("pid"), before);
  request(pool, op("throw"), failed);
  request(pool, op("pid"), after);
  test::run_until(io, [&] { return after.done; });
  CHECK(failed.ec == forkipc::errc::request_failed);
  CHECK(failed.reply == "asked to throw");
  CHECK_FALSE(after.ec);
  CHECK(after.reply == before.reply);  // the same process
  pool.close();
  test::run_to_end(io);
}

TEST_CASE("a worker that exits is replaced; its request fails with worker_exited") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  result dies;
  request(pool, {{"op", "exit"}, {"code", 3}}, dies);
  test::run_until(io, [&] { return dies.done; });
  CHECK(dies.ec == forkipc::errc::worker_exited);
  test::run_until(io, [&] { return pool.size() == 2; });
  result later;
  request(pool, {{"op", "echo"}, {"value", "still here"}}, later);
  test::run_until(io, [&] { return later.done; });
  CHECK(later.reply == "still here");
  pool.close();
  test::run_to_end(io);
  CHECK(test::child_pids().empty());
}

TEST_CASE("SIGKILLed workers are replaced, and requests keep succeeding") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  std::vector<result> pids(2);
  for (auto& r : pids) request(pool, op("pid"), r);
  test::run_until(io, [&] { return pids[0].done && pids[1].done; });
  REQUIRE(pids[0].reply != pids[1].reply);
  // Two long requests on each worker, then one worker dies under them.
  std::vector<result> in_flight(4);
  for (auto& r : in_flight) request(pool, sleep_for(1000), r);
  const json killed_pid = pids[0].reply;
  REQUIRE(::kill(killed_pid.get<int>(), SIGKILL) == 0);
  test::run_until(io, [&] { return std::all_of(in_flight.begin(), in_flight.end(), [](auto& r) { return r.done; }); });
  int exited = 0, succeeded = 0;
  for (auto& r : in_flight) {
    if (r.ec == forkipc::errc::worker_exited) ++exited;
    if (!r.ec) ++succeeded;
  }
  CHECK(exited == 2);
  CHECK(succeeded == 2);
  test::run_until(io, [&] { return pool.size() == 2; });
  std::vector<result> after(20);
  for (auto& r : after) request(pool, op("pid"), r);
  test::run_until(io, [&] { return std::all_of(after.begin(), after.end(), [](auto& r) { return r.done; }); });
  for (auto& r : after) {
    CHECK_FALSE(r.ec);
    CHECK(r.reply != killed_pid);
  }
  pool.close();
  test::run_to_end(io);
  CHECK(test::child_pids().empty());
}

TEST_CASE("a worker killed after it answered is replaced at once: the back-off is for failed starts") {
  // Six kills, each soon after the worker's start but after its first answer. Were they failed
  // starts, the back-off would hold the replacements 100 + 200 + 400 + 800 + 1600 ms.
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(1));
  const auto started = std::chrono::steady_clock::now();
  std::set<json> pids;
  for (int kill = 0; kill < 6; ++kill) {
    result pid;
    do {  // until the killed worker's end is seen, a request may still go to it
      pid = {};
      request(pool, op("pid"), pid);
      test::run_until(io, [&] { return pid.done; });
    } while (pid.ec == forkipc::errc::worker_exited);
    REQUIRE_FALSE(pid.ec);
    pids.insert(pid.reply);
    REQUIRE(::kill(pid.reply.get<int>(), SIGKILL) == 0);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(pids.size() == 6);
  CHECK_MESSAGE(took < 1500ms, "six replacements took "
                                   << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  pool.close();
  test::run_to_end(io);
  CHECK(test::child_pids().empty());
}

TEST_CASE("request_timeout: the request times out, and its stuck worker is replaced") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(1, 300ms));
  result stuck_pid, stuck;
  request(pool, op("pid"), stuck_pid);
  request(pool, sleep_for(60'000), stuck);
  test::run_until(io, [&] { return stuck.done; });
  CHECK(stuck.ec == std::errc::timed_out);
  CHECK(pool.size() == 1);  // the replacement, already
  result fresh;
  request(pool, op("pid"), fresh);
  test::run_until(io, [&] { return fresh.done; });
  CHECK_FALSE(fresh.ec);
  CHECK(fresh.reply != stuck_pid.reply);
  pool.close();
  test::run_to_end(io);  // the stuck worker was killed: nothing keeps the loop
  CHECK(test::child_pids().empty());
}

TEST_CASE("close() lets what is in flight finish, refuses new requests, and the workers exit") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"), {}, workers(2));
  std::vector<result> in_flight(4);
  for (auto& r : in_flight) request(pool, sleep_for(200), r);
  pool.close();
  result refused;
  request(pool, op("pid"), refused);
  test::run_to_end(io);
  for (auto& r : in_flight) {
    CHECK(r.done);
    CHECK_FALSE(r.ec);
  }
  CHECK(refused.ec == forkipc::errc::pool_closed);
  CHECK(pool.size() == 0);
  CHECK(test::child_pids().empty());
}

TEST_CASE("destroying the pool is close(): what is in flight still completes") {
  boost::asio::io_context io;
  std::vector<result> in_flight(3);
  {
    forkipc::pool pool(io, helper("pool_worker"), {}, workers(1));
    for (auto& r : in_flight) request(pool, sleep_for(100), r);
  }
  test::run_to_end(io);
  for (auto& r : in_flight) CHECK((r.done && !r.ec));
  CHECK(test::child_pids().empty());
}

TEST_CASE("a pool of a program that cannot be started throws and leaves nothing") {
  boost::asio::io_context io;
  CHECK_THROWS_AS(forkipc::pool(io, "/nonexistent/worker", {}, workers(2)), forkipc::error);
  test::run_to_end(io);
  CHECK(test::child_pids().empty());
}

TEST_CASE("by default, one worker per core") {
  boost::asio::io_context io;
  forkipc::pool pool(io, helper("pool_worker"));
  CHECK(pool.size() == std::max(1u, std::thread::hardware_concurrency()));
  pool.close();
  test::run_to_end(io);
}

TEST_CASE("a Node script can be a worker, through the documented envelope") {
  boost::asio::io_context io;
  forkipc::pool pool(io, test::script("pool_worker.js"), {},
                     {.workers = 2, .fork = {.exec_path = "node"}});
  result echoed, unknown;
  request(pool, {{"op", "echo"}, {"value", {{"from", "node"}}}}, echoed);
  request(pool, op("nonsense"), unknown);
  test::run_until(io, [&] { return echoed.done && unknown.done; });
  CHECK(echoed.reply == json{{"from", "node"}});
  CHECK(unknown.ec == forkipc::errc::request_failed);
  CHECK(unknown.reply == "unknown request");
  pool.close();
  test::run_to_end(io);
}

TEST_CASE("serve() answers a bare message with a bare value, as a plain Node parent expects") {
  boost::asio::io_context io;
  auto worker = forkipc::fork(io, helper("pool_worker"));
  test::recorder seen(*worker);
  worker->send({{"op", "echo"}, {"value", 42}});
  worker->send(op("throw"));
  test::run_until(io, [&] { return seen.messages.size() == 2; });
  CHECK(seen.messages[0] == 42);
  CHECK(seen.messages[1] == json{{"error", "asked to throw"}});
  worker->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}
