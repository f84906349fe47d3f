// Reports who it runs as and where, as one message: its user and group IDs (real and
// effective), its supplementary groups, its pid, session and process group. Then it waits for
// the parent to disconnect.
//
// `credentials unprivileged` first gives up root for user and group 65534, then asks to start
// itself as user 0, and as group 0, spawned and (on the linux backend) from a zygote, and reports
// what each refusal said instead: [{"code": errno, "what": text}...], or "started".
#include <forkipc/forkipc.hpp>

#include <grp.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

forkipc::json who() {
  std::vector<gid_t> groups(static_cast<std::size_t>(::getgroups(0, nullptr)));
  groups.resize(static_cast<std::size_t>(::getgroups(static_cast<int>(groups.size()), groups.data())));
  return {{"uid", ::getuid()},      {"euid", ::geteuid()}, {"gid", ::getgid()},
          {"egid", ::getegid()},    {"groups", groups},    {"pid", ::getpid()},
          {"sid", ::getsid(0)},     {"pgid", ::getpgid(0)}};
}

template <class Start>
forkipc::json refusal(Start start) {
  try {
    start();
    return "started";
  } catch (const forkipc::error& e) {
    return {{"code", e.code().value()}, {"what", e.what()}};
  }
}

forkipc::json refusals(const char* self, bool with_zygote) {
  forkipc::json answers = forkipc::json::array();
  for (const forkipc::fork_options& options : {forkipc::fork_options{.uid = 0}, forkipc::fork_options{.gid = 0}}) {
    answers.push_back(refusal([&] { forkipc::sync::child child(self, {}, options); }));
    if (with_zygote) {
      boost::asio::io_context io;
      forkipc::zygote zygote(io, self, {}, options);
      answers.push_back(refusal([&] { zygote.fork(); }));
    }
  }
  return answers;
}

}  // namespace

int main(int argc, char** argv) {
  forkipc::sync::parent parent;
  if (argc > 1 && std::string_view(argv[1]) == "unprivileged") {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    parent.send(refusals(argv[0], argc > 2 && std::string_view(argv[2]) == "zygote"));
  } else {
    parent.send(who());
  }
  while (parent.receive()) {
  }
  return 0;
}
