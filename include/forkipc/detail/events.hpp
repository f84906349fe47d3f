// Node-named listener lists: on/once by event name, with the listener checked against the event's
// arguments when it is added, not when the event fires.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <forkipc/detail/export.hpp>

namespace forkipc::detail {

[[noreturn]] FORKIPC_API void throw_unknown_event(std::string_view name,
                                      std::initializer_list<std::string_view> valid_names);
[[noreturn]] FORKIPC_API void throw_listener_mismatch(std::string_view name, std::string_view signature);

/// The declared type of F's first parameter (F a function pointer, or a class with one
/// non-template operator()); void when F takes none or its parameters are deduced (auto).
template <class F, class = void>
struct first_parameter {
  using type = void;
};
template <class R, class A, class... More>
struct first_parameter<R (*)(A, More...)> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_parameter<R (C::*)(A, More...)> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_parameter<R (C::*)(A, More...) const> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_parameter<R (C::*)(A, More...) noexcept> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_parameter<R (C::*)(A, More...) const noexcept> {
  using type = A;
};
template <class F>
struct first_parameter<F, std::void_t<decltype(&F::operator())>>
    : first_parameter<decltype(&F::operator())> {};

/// true when Event names a parameter type its listeners must not declare (Event::refused),
/// and F declares it: json and std::span<const std::byte> convert into each other implicitly,
/// so "does F accept the arguments" alone would let a bytes listener listen to messages.
template <class Event, class F, class = void>
struct refuses_listener : std::false_type {};
template <class Event, class F>
struct refuses_listener<Event, F, std::void_t<typename Event::refused>>
    : std::is_same<std::remove_cvref_t<typename first_parameter<std::decay_t<F>>::type>,
                   typename Event::refused> {};

/// The listeners of one event. Emitting works on a snapshot, so a listener may add listeners
/// (they see the next emission, not this one) or be a once-listener without disturbing the loop.
template <class... Args>
class listener_list {
  template <class F, std::size_t... I>
  static constexpr bool invocable_with_first(std::index_sequence<I...>) {
    return std::is_invocable_v<std::decay_t<F>&, std::tuple_element_t<I, std::tuple<Args...>>...>;
  }

  // How many of the leading arguments F takes, the most it can; more than all when none fits.
  template <class F, std::size_t N = sizeof...(Args)>
  static constexpr std::size_t arity() {
    if constexpr (invocable_with_first<F>(std::make_index_sequence<N>())) {
      return N;
    } else if constexpr (N == 0) {
      return sizeof...(Args) + 1;
    } else {
      return arity<F, N - 1>();
    }
  }

  template <class F, class Tuple, std::size_t... I>
  static void call_with_first(F& f, Tuple&& args, std::index_sequence<I...>) {
    f(std::get<I>(std::move(args))...);
  }

  // Arguments pass as the listener type says, except that an rvalue reference stays one.
  template <class A>
  static decltype(auto) pass(std::remove_reference_t<A>& arg) noexcept {
    if constexpr (std::is_rvalue_reference_v<A>) {
      return std::move(arg);
    } else {
      return static_cast<std::remove_reference_t<A>&>(arg);
    }
  }

 public:
  using function = std::function<void(Args...)>;

  /// A callable can listen when it takes the event's arguments, or only the first few of them
  /// (it then ignores the rest, as a JavaScript function with fewer parameters would).
  template <class F>
  static constexpr bool accepts = arity<F>() <= sizeof...(Args);

  template <class F>
  void add(F&& listener, bool once) {
    auto next = entries_ ? std::make_shared<std::vector<entry>>(*entries_)
                         : std::make_shared<std::vector<entry>>();
    constexpr std::size_t taken = arity<F>();
    if constexpr (taken == sizeof...(Args)) {
      next->push_back({function(std::forward<F>(listener)), once});
    } else {
      next->push_back({[f = std::forward<F>(listener)](Args... args) mutable {
                         call_with_first(f, std::forward_as_tuple(pass<Args>(args)...),
                                                std::make_index_sequence<taken>());
                       },
                       once});
    }
    once_count_ += once ? 1 : 0;
    entries_ = std::move(next);
  }

  // An rvalue-reference argument (a handle) is offered to each listener in turn: the first that
  // takes it by value moves it out, and the later ones see what is left.
  void emit(Args... args) {
    auto snapshot = entries_;  // keeps this emission's listeners alive whatever they do
    if (!snapshot) return;
    if (once_count_ != 0) remove_once_listeners();
    for (const entry& e : *snapshot) e.listener(pass<Args>(args)...);
  }

  bool empty() const noexcept { return !entries_ || entries_->empty(); }

  void clear() noexcept {
    entries_.reset();
    once_count_ = 0;
  }

 private:
  struct entry {
    function listener;
    bool once;
  };


  void remove_once_listeners() {
    auto next = std::make_shared<std::vector<entry>>();
    for (const entry& e : *entries_)
      if (!e.once) next->push_back(e);
    entries_ = next->empty() ? nullptr : std::move(next);
    once_count_ = 0;
  }

  std::shared_ptr<const std::vector<entry>> entries_;
  std::size_t once_count_ = 0;
};

/// The listener lists of a fixed set of events, addressed by name at run time and by type when
/// emitting. An event is a type with `name` (what on() takes), `signature` (how its listener
/// reads in errors) and `list` (its listener_list). Not thread-safe: add listeners before the io_context runs, or on its thread.
template <class... Events>
class emitter {
 public:
  /// Adds listener to the event called name. Throws std::invalid_argument, naming the valid
  /// choices, for an unknown name or a listener that cannot take that event's arguments.
  template <class F>
  void add(std::string_view name, F&& listener, bool once) {
    if (!(try_add<Events>(name, listener, once) || ...))
      throw_unknown_event(name, {Events::name...});
  }

  template <class Event, class... A>
  void emit(A&&... args) {
    list<Event>().emit(std::forward<A>(args)...);
  }

  template <class Event>
  bool has_listeners() const noexcept {
    return !std::get<index_of<Event>()>(lists_).empty();
  }

  /// Drops every listener, and with them whatever they captured (a shared_ptr to their own
  /// emitter's owner, typically), so that such cycles end with the owner's last event.
  void clear() noexcept { std::apply([](auto&... l) { (l.clear(), ...); }, lists_); }

 private:
  template <class Event>
  static constexpr std::size_t index_of() {
    std::size_t i = 0;
    (void)((std::is_same_v<Event, Events> ? false : (++i, true)) && ...);
    return i;
  }

  template <class Event>
  typename Event::list& list() noexcept {
    return std::get<index_of<Event>()>(lists_);
  }

  template <class Event, class F>
  bool try_add(std::string_view name, F& listener, bool once) {
    if (name != Event::name) return false;
    if constexpr (Event::list::template accepts<F> && !refuses_listener<Event, F>::value) {
      list<Event>().add(std::forward<F>(listener), once);
    } else {
      throw_listener_mismatch(Event::name, Event::signature);
    }
    return true;
  }

  std::tuple<typename Events::list...> lists_;
};

}  // namespace forkipc::detail
