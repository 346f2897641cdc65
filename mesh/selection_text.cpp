#include "zmesh/mesh/selection_text.hpp"

#include <limits>
#include <optional>
#include <vector>

#include "zmesh/mesh/internal/text_cursor.hpp"

namespace zmesh {

namespace {

using internal::TextCursor;

constexpr std::size_t kMaxNesting = 64;
constexpr std::string_view kGroupStart = "a selection (*, ?, first, true, false, n, a:b:s or '(')";

class Parser {
 public:
  explicit Parser(std::string_view text) : cursor_(text) {}

  Result<Selection> parse() {
    cursor_.skip_spaces();
    if (cursor_.at_end()) {
      return problem_at(cursor_, "the selection is empty; write * to select every point");
    }
    auto selection = parse_union();
    if (!selection) return selection;
    cursor_.skip_spaces();
    if (!cursor_.at_end()) {
      if (cursor_.peek() == ')') return error_at(cursor_, "end of text; this ')' has no '('");
      return error_at(cursor_, "',', '|', '&' or end of text");
    }
    return selection;
  }

 private:
  static Error error_at(const TextCursor& at, std::string_view expected) {
    return internal::parse_error_at(at, expected);
  }
  static Error problem_at(const TextCursor& at, std::string_view problem) {
    return internal::parse_problem_at(at, problem);
  }

  Result<Selection> parse_union() {
    std::vector<Selection> members;
    do {
      auto member = parse_intersection();
      if (!member) return member;
      members.push_back(std::move(member).value());
    } while (cursor_.consume('|'));
    return Selection::union_of(std::move(members));
  }

  Result<Selection> parse_intersection() {
    std::vector<Selection> members;
    do {
      auto member = parse_chain();
      if (!member) return member;
      members.push_back(std::move(member).value());
    } while (cursor_.consume('&'));
    return Selection::intersection_of(std::move(members));
  }

  Result<Selection> parse_chain() {
    std::vector<Selection> groups;
    TextCursor group_start = cursor_;
    while (true) {
      cursor_.skip_spaces();
      group_start = cursor_;
      auto group = parse_group();
      if (!group) return group;
      groups.push_back(std::move(group).value());
      if (!cursor_.consume(',')) break;
      const Selection& previous = groups.back();
      if (!previous.is_one_dimensional()) {
        const std::size_t depth = previous.depth();
        const std::string span = depth == 0 ? std::string("stands for all remaining dimensions")
                                            : "spans " + std::to_string(depth) + " dimensions";
        return problem_at(group_start, "this group " + span +
                                           ", so no ',' can follow it; only the last group of "
                                           "a chain may span more than one dimension");
      }
    }
    // The groups were checked above, so building the chain cannot fail.
    return Selection::chain(std::move(groups));
  }

  Result<Selection> parse_group() {
    cursor_.skip_spaces();
    const TextCursor start = cursor_;
    const char c = cursor_.peek();
    if (cursor_.at_end()) return error_at(cursor_, kGroupStart);
    if (c == '(') {
      if (nesting_ == kMaxNesting) {
        return problem_at(start, "parentheses nest deeper than " + std::to_string(kMaxNesting));
      }
      (void)cursor_.consume('(');
      ++nesting_;
      auto inner = parse_union();
      --nesting_;
      if (!inner) return inner;
      if (!cursor_.consume(')')) {
        cursor_.skip_spaces();
        return error_at(cursor_,
                        "')' to close the '(' at column " + std::to_string(start.column()));
      }
      return inner;
    }
    if (cursor_.consume('*')) return Selection::all();
    if (cursor_.consume('?')) return Selection::any();
    if (c == ':' || (c >= '0' && c <= '9')) return parse_range();
    const std::string_view word = cursor_.read_word();
    if (word == "first") return Selection::first();
    if (word == "true") return Selection::true_();
    if (word == "false") return Selection::false_();
    if (!word.empty()) {
      return problem_at(start, "unknown word \"" + std::string(word) + "\"; expected " +
                                   std::string(kGroupStart));
    }
    return error_at(start, kGroupStart);
  }

  // True if the next character (after spaces) ends a range: nothing more to read for it.
  bool at_range_end() {
    cursor_.skip_spaces();
    const char c = cursor_.peek();
    return cursor_.at_end() || c == ',' || c == '|' || c == '&' || c == ')';
  }

  Result<std::size_t> read_number(std::string_view what) {
    return internal::read_required_number(cursor_, what);
  }

  Result<Selection> parse_range() {
    const TextCursor start = cursor_;
    std::size_t begin = 0;
    if (cursor_.peek() != ':') {
      auto number = read_number("a number");
      if (!number) return std::move(number).error();
      begin = *number;
      if (!cursor_.consume(':')) {
        if (begin == std::numeric_limits<std::size_t>::max()) {
          return problem_at(start, "index " + std::to_string(begin) + " is too large");
        }
        return Selection::index(begin);
      }
    } else {
      (void)cursor_.consume(':');
    }
    std::optional<std::size_t> end;
    cursor_.skip_spaces();
    if (cursor_.peek() != ':' && !at_range_end()) {
      auto number = read_number("a number");
      if (!number) return std::move(number).error();
      end = *number;
    }
    std::size_t step = 1;
    if (cursor_.consume(':')) {
      auto number = read_number("a number (the step)");
      if (!number) return std::move(number).error();
      step = *number;
    }
    auto range = Selection::range(begin, end, step);
    if (!range) return problem_at(start, range.error().message);
    return range;
  }

  TextCursor cursor_;
  std::size_t nesting_ = 0;
};

void print(const Selection& selection, std::string& out);

// Prints `member`, in parentheses if its operator binds looser than the context's.
void print_operand(const Selection& member, bool parenthesize, std::string& out) {
  if (parenthesize) out += '(';
  print(member, out);
  if (parenthesize) out += ')';
}

void print_range(const Selection::IndexRange& range, std::string& out) {
  out += std::to_string(range.begin);
  if (range.end && *range.end == range.begin + 1 && range.step == 1) return;
  out += ':';
  if (range.end) out += std::to_string(*range.end);
  if (range.step != 1) {
    out += ':';
    out += std::to_string(range.step);
  }
}

void print(const Selection& selection, std::string& out) {
  using Kind = Selection::Kind;
  const auto& members = selection.members();
  switch (selection.kind()) {
    case Kind::false_:
      out += "false";
      return;
    case Kind::true_:
      out += "true";
      return;
    case Kind::all:
      out += '*';
      return;
    case Kind::any:
      out += '?';
      return;
    case Kind::first:
      out += "first";
      return;
    case Kind::range:
      print_range(selection.index_range(), out);
      return;
    case Kind::chain:
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += ',';
        const Kind kind = members[i].kind();
        print_operand(members[i], kind == Kind::union_ || kind == Kind::intersection, out);
      }
      return;
    case Kind::union_:
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += '|';
        // Members are never unions (they are flattened), and '&' and ',' bind tighter.
        print_operand(members[i], false, out);
      }
      return;
    case Kind::intersection:
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out += '&';
        print_operand(members[i], members[i].kind() == Kind::union_, out);
      }
      return;
  }
}

}  // namespace

Result<Selection> parse_selection(std::string_view text) {
  return Parser(text).parse();
}

std::string to_string(const Selection& selection) {
  std::string out;
  print(selection, out);
  return out;
}

}  // namespace zmesh
