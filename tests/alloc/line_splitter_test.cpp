// LineSplitter: lines across reads, partial last lines, the length cap.
#include "zmesh/alloc/internal/line_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zmesh::internal {
namespace {

class LineSplitterTest : public ::testing::Test {
 protected:
  void feed(std::string_view bytes) {
    splitter_.feed(bytes, [&](std::string_view line) { lines_.emplace_back(line); });
  }
  void finish() {
    splitter_.finish([&](std::string_view line) { lines_.emplace_back(line); });
  }
  LineSplitter splitter_{8};
  std::vector<std::string> lines_;
};

TEST_F(LineSplitterTest, LinesMaySpanReads) {
  feed("one\ntw");
  feed("o\n\nthr");
  feed("ee\n");
  finish();
  EXPECT_EQ(lines_, (std::vector<std::string>{"one", "two", "", "three"}));
}

TEST_F(LineSplitterTest, PartialLastLineCountsAtTheEnd) {
  feed("a\nno nl");
  EXPECT_EQ(lines_, (std::vector<std::string>{"a"}));
  finish();
  finish();  // nothing is left the second time
  EXPECT_EQ(lines_, (std::vector<std::string>{"a", "no nl"}));
}

TEST_F(LineSplitterTest, LongLinesAreCutAtTheCap) {
  feed("0123456789abcdefXY\nshort\n");
  feed("01234567");  // exactly the cap, then its newline in the next read
  feed("\n");
  EXPECT_EQ(lines_, (std::vector<std::string>{"01234567", "89abcdef", "XY", "short", "01234567"}));
}

TEST_F(LineSplitterTest, LongLineBuiltFromManySmallReads) {
  for (char c : std::string("abcdefghij\n")) feed(std::string_view(&c, 1));
  EXPECT_EQ(lines_, (std::vector<std::string>{"abcdefgh", "ij"}));
}

}  // namespace
}  // namespace zmesh::internal
