#pragma once
// read_extent: the "{host=2,gpu=8}" reader shared by Extent::parse and Shape::parse, so that
// a shape's error columns count from the start of the whole shape text.
// Thread: pure function. Failure: parse_error at the culprit's column; invalid values
// (size 0, duplicate labels) are invalid_argument from Extent::create.

#include <string_view>

#include "zmesh/core/error.hpp"
#include "zmesh/mesh/extent.hpp"
#include "zmesh/mesh/internal/text_cursor.hpp"

namespace zmesh::internal {

// Reads an extent at the cursor (after spaces) and leaves the cursor after its '}'.
Result<Extent> read_extent(TextCursor& cursor, std::string_view hint);

}  // namespace zmesh::internal
