#pragma once
// LineSplitter: turns the byte stream of one child pipe (stdout or stderr) into lines.
// A line is the bytes before a '\n', without it. A line longer than the cap is cut into
// cap-sized pieces, so a child that never writes a newline cannot grow our memory.
// Thread: a plain value owned by one thread (the group's monitor thread).

#include <cstddef>
#include <string>
#include <string_view>

namespace zmesh::internal {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line(std::string_view) for every line that `bytes` completes; keeps the rest.
  template <class OnLine>
  void feed(std::string_view bytes, OnLine&& on_line) {
    while (!bytes.empty()) {
      const auto newline = bytes.find('\n');
      const std::size_t line_bytes = newline == std::string_view::npos ? bytes.size() : newline;
      const std::size_t room = max_line_bytes_ - pending_.size();
      if (line_bytes > room) {
        pending_.append(bytes.substr(0, room));
        on_line(std::string_view(pending_));
        pending_.clear();
        bytes.remove_prefix(room);
        continue;
      }
      if (newline == std::string_view::npos) {
        pending_.append(bytes);
        return;
      }
      if (pending_.empty()) {
        on_line(bytes.substr(0, newline));  // the common case: no copy
      } else {
        pending_.append(bytes.substr(0, newline));
        on_line(std::string_view(pending_));
        pending_.clear();
      }
      bytes.remove_prefix(newline + 1);
    }
  }

  // End of stream: a last line without its '\n' still counts as a line.
  template <class OnLine>
  void finish(OnLine&& on_line) {
    if (pending_.empty()) return;
    on_line(std::string_view(pending_));
    pending_.clear();
  }

 private:
  std::size_t max_line_bytes_;
  std::string pending_;  // an incomplete line, never longer than max_line_bytes_
};

}  // namespace zmesh::internal
