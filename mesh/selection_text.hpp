#pragma once
// The text form of a Selection: parse_selection() and to_string(), which round-trip exactly
// (parse_selection(to_string(s)) == s, structurally). Meanings are in selection.hpp.
// Thread: pure functions. Failure: parse_error naming the 1-based column and what was
// expected, e.g. `parse error at column 5 in "*,0:x": expected a number`.
//
// Grammar (spaces are allowed between tokens):
//   selection    := intersection ('|' intersection)*     union, loosest
//   intersection := chain ('&' chain)*
//   chain        := group (',' group)*                   ',' moves to the next dimension
//   group        := '(' selection ')' | '*' | '?' | 'first' | 'true' | 'false' | range
//   range        := n | n? ':' n? (':' n)?               a:b:s, defaults 0, end, 1
// So "*,0 | 1,*" is a union of two chains, and "*,(1:4|5:6)" confines the union to the second
// dimension. Every group but the last of a chain must be one-dimensional: "(0,1),2" is an
// error, "0,(1,2)" is the chain 0,1,2. Parentheses nest at most 64 deep.
// Printing: ranges print as "n" (one index), "a:b", "a:" (to the end), "a:b:s" or "a::s";
// parentheses appear only where the grammar needs them.

#include <string>
#include <string_view>

#include "zmesh/core/error.hpp"
#include "zmesh/mesh/selection.hpp"

namespace zmesh {

Result<Selection> parse_selection(std::string_view text);

std::string to_string(const Selection& selection);

}  // namespace zmesh
