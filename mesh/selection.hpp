#pragma once
// Selection: a value-type expression choosing points of a shape one dimension at a time
// (docs/concepts.md, "Views and selections"). The tree mirrors the text grammar of selection_text.hpp,
// so printing and parsing round-trip exactly; eval() and contains() are in selection_eval.hpp.
// Thread: immutable value type. Failure: builders that can be misused return Result
// (invalid_argument naming the offending group or range).
//
// Meaning, for a selection applied at dimension d of a shape with n dimensions:
//   false_        nothing.
//   true_         every point of dimensions d..n-1.
//   all           every index of dimension d.                                  text: *
//   any           one index of dimension d, picked by hashing eval's seed, d and the
//                 coordinates already fixed (so "*,?" picks one gpu per host, and every
//                 node computing the same selection with the same seed picks the same).  ?
//   first         the lowest index of dimension d for which the groups after it in the
//                 chain select something (index 0 unless they can be empty).   first
//   range         begin, begin+step, ... below end (no end: to the end of the dimension).
//                 An index n is the range n:n+1.                               n, a:b:s
//   chain         group k applies at dimension d+k; every group but the last must be
//                 one-dimensional. Dimensions after the chain are unconstrained.  g,g,g
//   union_        the points chosen by any member; members apply at the same dimension.  a|b
//   intersection  the points chosen by every member.                           a&b
// One-dimensional: all, any, first, range, and unions/intersections of one-dimensional members;
// the dimensions after a one-dimensional selection are unconstrained ("*,*" is "*").

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "zmesh/core/error.hpp"

namespace zmesh {

class Selection {
 public:
  enum class Kind : std::uint8_t {
    false_,
    true_,
    all,
    any,
    first,
    range,
    chain,
    union_,
    intersection,
  };

  struct IndexRange {
    std::size_t begin = 0;
    std::optional<std::size_t> end;  // none: up to the end of the dimension
    std::size_t step = 1;
    friend bool operator==(const IndexRange&, const IndexRange&) = default;
  };

  // -- construction --
  static Selection false_() { return Selection(Kind::false_); }
  static Selection true_() { return Selection(Kind::true_); }
  static Selection all() { return Selection(Kind::all); }
  static Selection any() { return Selection(Kind::any); }
  static Selection first() { return Selection(Kind::first); }
  static Selection index(std::size_t index);
  // step >= 1 and, with an end, end > begin.
  static Result<Selection> range(std::size_t begin, std::optional<std::size_t> end,
                                 std::size_t step = 1);
  // Groups for consecutive dimensions. Every group but the last must be one-dimensional;
  // a chain that ends in a chain is flattened, and a single group is returned as is.
  static Result<Selection> chain(std::vector<Selection> groups);
  // A union (intersection) of unions (intersections) is flattened; a single member is returned
  // as is; no members gives false_ (true_ for an intersection).
  static Selection union_of(std::vector<Selection> members);
  static Selection intersection_of(std::vector<Selection> members);

  // -- structure --
  Kind kind() const noexcept { return kind_; }
  // The range of a Kind::range selection (a default range for other kinds).
  const IndexRange& index_range() const noexcept { return range_; }
  // Groups of a chain, members of a union or intersection; empty otherwise.
  const std::vector<Selection>& members() const noexcept { return members_; }
  bool is_one_dimensional() const noexcept;
  // How many dimensions the selection constrains at most: 0 for true_/false_, 1 for a
  // one-dimensional selection; a shape needs at least this many dimensions.
  std::size_t depth() const noexcept;

  friend bool operator==(const Selection&, const Selection&) = default;

 private:
  explicit Selection(Kind kind) : kind_(kind) {}

  Kind kind_;
  IndexRange range_;
  std::vector<Selection> members_;
};

inline Selection operator|(Selection a, Selection b) {
  return Selection::union_of({std::move(a), std::move(b)});
}
inline Selection operator&(Selection a, Selection b) {
  return Selection::intersection_of({std::move(a), std::move(b)});
}

}  // namespace zmesh
