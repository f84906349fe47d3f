// A parent that owns a zygote, for the test that SIGKILLs a zygote's owner: started through
// sync::child, it starts a zygote of argv[1] argv[2] argv[3], forks one child of it, sends
// {"zygote": pid, "child": pid}, and waits to be killed.
#include <forkipc/forkipc.hpp>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  forkipc::sync::parent parent;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, argv[1], {argv[2], argv[3]});
  auto child = zygote.fork();
  parent.send({{"zygote", zygote.pid()}, {"child", child->pid()}});
  for (;;) ::pause();
}
