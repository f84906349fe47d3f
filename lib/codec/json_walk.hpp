// walk(): a depth-first walk over a json value without recursion.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <boost/container/small_vector.hpp>

#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

namespace forkipc::detail {

/// Visits value depth first, in order, keeping its path on the heap rather than on the stack:
/// the writers and the nesting check walk values of any depth with it, so that a message a
/// million levels deep costs memory, never a stack overflow. The visitor has
///   void scalar(const json&)                     every value that is not an array or object
///   void open_array(const json::array_t&)        then element(first) before each element
///   void element(bool first)
///   void close_array()
///   void open_object(const json::object_t&)      then member(key, first) before each member
///   void member(const std::string& key, bool first)
///   void close_object()
/// Returns false, having stopped, when an array or object would open more than max_depth levels
/// deep (`[]` is one level, `[[]]` two); true once the whole value was visited.
template <class Visitor>
bool walk(const json& value, std::size_t max_depth, Visitor& visitor) {
  struct frame {
    const json::array_t* array;  // null for an object
    json::array_t::const_iterator element;
    json::object_t::const_iterator member, members_end;
    bool first = true;
  };
  // Messages are rarely more than a few levels deep: those walk without an allocation.
  boost::container::small_vector<frame, 16> path;
  const json* next = &value;
  for (;;) {
    if (next->is_array() || next->is_object()) {
      if (path.size() >= max_depth) return false;
      if (next->is_array()) {
        const auto& elements = next->get_ref<const json::array_t&>();
        visitor.open_array(elements);
        path.push_back({&elements, elements.begin(), {}, {}});
      } else {
        const auto& members = next->get_ref<const json::object_t&>();
        visitor.open_object(members);
        path.push_back({nullptr, {}, members.begin(), members.end()});
      }
    } else {
      visitor.scalar(*next);
    }
    // On to the next value: the next element or member of the innermost open container.
    for (;;) {
      if (path.empty()) return true;
      frame& f = path.back();
      const bool first = std::exchange(f.first, false);
      if (f.array != nullptr) {
        if (f.element == f.array->end()) {
          visitor.close_array();
          path.pop_back();
          continue;
        }
        visitor.element(first);
        next = &*f.element++;
      } else {
        if (f.member == f.members_end) {
          visitor.close_object();
          path.pop_back();
          continue;
        }
        visitor.member(f.member->first, first);
        next = &f.member->second;
        ++f.member;
      }
      break;
    }
  }
}

/// true when value is nested at most max_depth levels deep (see walk).
inline bool nested_within(const json& value, std::size_t max_depth) {
  struct nothing {
    void scalar(const json&) noexcept {}
    void open_array(const json::array_t&) noexcept {}
    void element(bool) noexcept {}
    void close_array() noexcept {}
    void open_object(const json::object_t&) noexcept {}
    void member(const std::string&, bool) noexcept {}
    void close_object() noexcept {}
  } visitor;
  return walk(value, max_depth, visitor);
}

/// What the writers throw for a value nested more than max_depth levels deep.
[[noreturn]] inline void throw_too_deep_to_encode(std::size_t max_depth) {
  throw error(errc::unencodable_message,
              "cannot encode the message: it is nested more than " + std::to_string(max_depth) +
                  " levels deep (max_nesting_depth; the peer would refuse it)");
}

}  // namespace forkipc::detail
