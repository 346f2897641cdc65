#include "zmesh/mesh/internal/text_cursor.hpp"

#include <limits>

namespace zmesh::internal {

namespace {

bool is_word_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_word_char(char c) noexcept {
  return is_word_start(c) || (c >= '0' && c <= '9');
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// "'x'" for a printable character, "end of text" at the end: for "found ..." messages.
std::string describe_next(const TextCursor& cursor) {
  if (cursor.at_end()) return "end of text";
  const char c = cursor.peek();
  if (c >= 0x20 && c < 0x7f) return std::string("'") + c + "'";
  return "a non-printable character";
}

}  // namespace

void TextCursor::skip_spaces() noexcept {
  while (!at_end() && is_space(text_[position_])) ++position_;
}

bool TextCursor::consume(char c) noexcept {
  skip_spaces();
  if (at_end() || peek() != c) return false;
  ++position_;
  return true;
}

TextCursor::Number TextCursor::read_number() noexcept {
  Number number;
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  while (!at_end() && text_[position_] >= '0' && text_[position_] <= '9') {
    const auto digit = static_cast<std::size_t>(text_[position_] - '0');
    if (number.status != NumberStatus::overflow) {
      if (number.value > (max - digit) / 10) {
        number.status = NumberStatus::overflow;
      } else {
        number.value = number.value * 10 + digit;
        number.status = NumberStatus::ok;
      }
    }
    ++position_;
  }
  return number;
}

std::string_view TextCursor::read_word() noexcept {
  const std::size_t start = position_;
  if (at_end() || !is_word_start(text_[position_])) return {};
  while (!at_end() && is_word_char(text_[position_])) ++position_;
  return text_.substr(start, position_ - start);
}

bool is_identifier(std::string_view word) noexcept {
  if (word.empty() || !is_word_start(word.front())) return false;
  for (char c : word) {
    if (!is_word_char(c)) return false;
  }
  return true;
}

Error parse_problem_at(const TextCursor& cursor, std::string_view problem) {
  return make_error(ErrorCode::parse_error,
                    "parse error at column " + std::to_string(cursor.column()) + " in \"" +
                        std::string(cursor.text()) + "\": " + std::string(problem));
}

Error parse_error_at(const TextCursor& cursor, std::string_view expected, std::string_view hint) {
  std::string problem = "expected " + std::string(expected) + ", found " + describe_next(cursor);
  if (!hint.empty()) problem += " (" + std::string(hint) + ")";
  return parse_problem_at(cursor, problem);
}

Result<std::size_t> read_required_number(TextCursor& cursor, std::string_view what,
                                         std::string_view hint) {
  cursor.skip_spaces();
  const TextCursor start = cursor;
  const auto number = cursor.read_number();
  if (number.status == TextCursor::NumberStatus::absent) {
    return parse_error_at(cursor, what, hint);
  }
  if (number.status == TextCursor::NumberStatus::overflow) {
    return parse_problem_at(start, "number too large");
  }
  return number.value;
}

}  // namespace zmesh::internal
