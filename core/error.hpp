#pragma once
// Error and Result<T>: how every fallible zmesh call reports failure.
// An Error is a documented code plus a message that names the culprit; it is msgpack-
// serializable so that a failure on a remote proc reaches the client intact.
// Thread: plain values, safe to copy and move between threads.

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace zmesh {

enum class ErrorCode : std::uint8_t {
  invalid_argument = 1,  // the caller passed a value that cannot be used (bad option, size 0)
  parse_error,           // text could not be parsed (ids, shapes, selections, addresses)
  not_found,             // a named thing does not exist (actor type, label, proc, port)
  duplicate,             // a name is already taken (actor name, message type name)
  decode_error,          // msgpack bytes did not decode into the expected type
  version_mismatch,      // a peer speaks another envelope format version
  timeout,               // a deadline passed before the operation completed
  undeliverable,         // a message could not be delivered; the message names why
  transport_failed,      // a socket operation failed (bind, connect, send)
  actor_failed,          // an actor's handler threw or its init failed
  proc_failed,           // a proc died or stopped while work was pending on it
  stopped,               // the target was stopped (or is stopping) and accepts no work
  cancelled,             // the operation was abandoned by its owner
  internal,              // a broken invariant surfaced as a value (a bug: please report)
  backpressure,          // no room (link window, mailbox) before the deadline: slow down
  too_large,             // a message exceeds the sender's or the receiver's size limit
  unauthenticated,       // no key where one is needed, or a peer refused ours (CURVE)
};

// Stable lowercase name of a code, e.g. "not_found".
std::string_view to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}

  // "not_found: spawn \"Trainer\" failed: ..." — for logs and exception texts.
  std::string describe() const;

  friend bool operator==(const Error&, const Error&) = default;
  MSGPACK_DEFINE(code, message);
};

// Thrown only where no value can be returned (constructors, init, tools' main).
class Exception : public std::exception {
 public:
  explicit Exception(Error error) : error_(std::move(error)), text_(error_.describe()) {}
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  Error error_;
  std::string text_;
};

// Result<T>: a T or an Error, shaped like std::expected (which g++ 12 lacks in C++20).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { check(); return std::get<0>(state_); }
  const T& value() const& { check(); return std::get<0>(state_); }
  T&& value() && { check(); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(state_) : std::move(fallback); }

 private:
  void check() const {
    if (!ok()) throw Exception(std::get<1>(state_));
  }
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (error_) throw Exception(*error_);
  }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace zmesh

MSGPACK_ADD_ENUM(zmesh::ErrorCode);
