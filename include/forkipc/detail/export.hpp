// FORKIPC_API marks what libforkipc exports: the public classes and functions.
#pragma once

// The library is built with hidden visibility (-fvisibility=hidden, -fvisibility-inlines-hidden):
// its internals, and the Asio and JSON code it instantiates, bind inside it. A program that loads
// it then resolves only these names, and a child process starts sooner.
//
// A class is exported by a declaration before its definition (`class FORKIPC_API pool;`): the
// first declaration gives a class its visibility, and the definition then reads as any other.
#define FORKIPC_API __attribute__((visibility("default")))
