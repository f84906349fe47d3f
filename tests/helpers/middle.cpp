// A parent in the middle, for the tests of a parent that dies: started by the test, it starts
// argv[1] with forkipc::sync::child (with kill_on_parent_exit when argv[2] is "kill_on_parent_exit"),
// sends the test {"pid": <its child's pid>}, and waits on its own channel. The test then
// SIGKILLs it, and watches what becomes of the grandchild.
#include <forkipc/forkipc.hpp>

#include <string_view>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  forkipc::sync::parent up;
  forkipc::sync::child down(argv[1], {}, {.kill_on_parent_exit = std::string_view(argv[2]) == "kill_on_parent_exit"});
  up.send({{"pid", down.pid()}});
  while (up.receive()) {
  }
  return 0;
}
