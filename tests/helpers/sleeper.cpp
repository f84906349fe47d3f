// Ignores its channel and sleeps until a signal ends it.
#include <unistd.h>

int main() {
  for (;;) ::pause();
}
