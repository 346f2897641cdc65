#pragma once
// TextCursor: a position in a short text (a shape, point or selection) for hand-written
// parsers, with 1-based columns so that error messages can point at the culprit.
// Thread: value type. Failure: read_number reports overflow instead of wrapping.

#include <cstddef>
#include <string>
#include <string_view>

#include "zmesh/core/error.hpp"

namespace zmesh::internal {

class TextCursor {
 public:
  explicit TextCursor(std::string_view text) : text_(text) {}

  std::string_view text() const noexcept { return text_; }
  // 1-based column of the next unread character (one past the end at the end).
  std::size_t column() const noexcept { return position_ + 1; }
  bool at_end() const noexcept { return position_ >= text_.size(); }
  // The next character, or '\0' at the end.
  char peek() const noexcept { return at_end() ? '\0' : text_[position_]; }

  void skip_spaces() noexcept;
  // Consumes `c` if it is next (after spaces) and says whether it did.
  bool consume(char c) noexcept;

  enum class NumberStatus { absent, ok, overflow };
  struct Number {
    NumberStatus status = NumberStatus::absent;
    std::size_t value = 0;
  };
  // Reads decimal digits at the cursor (no sign, no spaces skipped).
  Number read_number() noexcept;
  // Reads an identifier ([A-Za-z_][A-Za-z0-9_]*) at the cursor; empty if there is none.
  std::string_view read_word() noexcept;

 private:
  std::string_view text_;
  std::size_t position_ = 0;
};

// True for a dimension label that the text forms can carry unquoted: [A-Za-z_][A-Za-z0-9_]*.
bool is_identifier(std::string_view word) noexcept;

// parse_error "parse error at column C in "TEXT": expected E, found F" + " (HINT)" if any.
Error parse_error_at(const TextCursor& cursor, std::string_view expected,
                     std::string_view hint = {});

// parse_error "parse error at column C in "TEXT": PROBLEM", for problems that are not a
// missing token.
Error parse_problem_at(const TextCursor& cursor, std::string_view problem);

// Reads decimal digits after spaces; absence and overflow are parse errors naming `what`.
Result<std::size_t> read_required_number(TextCursor& cursor, std::string_view what,
                                         std::string_view hint = {});

}  // namespace zmesh::internal
