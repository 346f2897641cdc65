#include "zmesh/core/ids.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <limits>

namespace zmesh {
namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// A cursor over id text that reports errors with the column (1-based) of the culprit.
class IdParser {
 public:
  IdParser(std::string_view text, std::string_view kind) : text_(text), kind_(kind) {}

  Error error_here(std::string_view expected) const {
    std::string found = pos_ < text_.size() ? fmt::format("'{}'", text_[pos_]) : "end of text";
    return Error(ErrorCode::parse_error,
                 fmt::format("bad {} \"{}\" at column {}: expected {}, found {}", kind_, text_,
                             pos_ + 1, expected, found));
  }

  Result<std::string> name() {
    const auto start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    if (pos_ == start) return error_here("a name (letters, digits, '_', '-')");
    return std::string(text_.substr(start, pos_ - start));
  }

  Result<std::uint64_t> bracketed_number(std::uint64_t max) {
    if (!consume('[')) return error_here("'['");
    const auto start = pos_;
    std::uint64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])) != 0) {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (max - digit) / 10) {
        pos_ = start;
        return error_here(fmt::format("a number no larger than {}", max));
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) return error_here("a number");
    if (!consume(']')) return error_here("']'");
    return value;
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  std::string_view kind_;
  std::size_t pos_ = 0;
};

constexpr auto max_u32 = std::numeric_limits<std::uint32_t>::max();

Result<ProcId> parse_proc(IdParser& p) {
  auto world = p.name();
  if (!world) return std::move(world).error();
  auto rank = p.bracketed_number(max_u32);
  if (!rank) return std::move(rank).error();
  return ProcId{WorldId{std::move(*world)}, static_cast<std::uint32_t>(*rank)};
}

Result<ActorId> parse_actor(IdParser& p) {
  auto proc = parse_proc(p);
  if (!proc) return std::move(proc).error();
  if (!p.consume('.')) return p.error_here("'.'");
  auto name = p.name();
  if (!name) return std::move(name).error();
  auto pid = p.bracketed_number(max_u32);
  if (!pid) return std::move(pid).error();
  return ActorId{std::move(*proc), std::move(*name), static_cast<std::uint32_t>(*pid)};
}

template <class T>
Result<T> finish(IdParser& p, Result<T> parsed) {
  if (parsed && !p.at_end()) return p.error_here("end of text");
  return parsed;
}

}  // namespace

Result<void> check_name(std::string_view name, std::string_view what) {
  if (name.empty()) return Error(ErrorCode::invalid_argument, fmt::format("{} name is empty", what));
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i])) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("{} name \"{}\" has '{}' at column {}: use letters, digits, '_', '-'",
                               what, name, name[i], i + 1));
    }
  }
  return {};
}

Result<WorldId> WorldId::parse(std::string_view text) {
  IdParser p(text, "world id");
  auto name = p.name();
  if (!name) return std::move(name).error();
  return finish(p, Result<WorldId>(WorldId{std::move(*name)}));
}

Result<ProcId> ProcId::parse(std::string_view text) {
  IdParser p(text, "proc id");
  return finish(p, parse_proc(p));
}

Result<ActorId> ActorId::parse(std::string_view text) {
  IdParser p(text, "actor id");
  return finish(p, parse_actor(p));
}

Result<PortId> PortId::parse(std::string_view text) {
  IdParser p(text, "port id");
  auto actor = parse_actor(p);
  if (!actor) return std::move(actor).error();
  auto index = p.bracketed_number(std::numeric_limits<std::uint64_t>::max());
  if (!index) return std::move(index).error();
  return finish(p, Result<PortId>(PortId{std::move(*actor), *index}));
}

void WorldId::msgpack_unpack(const msgpack::object& object) {
  if (object.type != msgpack::type::ARRAY) throw msgpack::type_error();
  if (object.via.array.size == 0) {
    name_.reset();
    return;
  }
  const msgpack::object& item = object.via.array.ptr[0];
  std::string_view text;
  if (item.type == msgpack::type::STR) {
    text = std::string_view(item.via.str.ptr, item.via.str.size);
  } else if (item.type == msgpack::type::BIN) {
    text = std::string_view(item.via.bin.ptr, item.via.bin.size);
  } else {
    throw msgpack::type_error();
  }
  if (text.empty()) {
    name_.reset();
    return;
  }
  // A thread decodes the ids of a few worlds over and over (its own, its client's): the
  // last few names it built are reused, round robin. Per thread, so no lock and nothing
  // shared but the immutable names themselves.
  struct RecentNames {
    std::array<std::shared_ptr<const std::string>, 4> names;
    std::size_t next = 0;
  };
  thread_local RecentNames recent;
  for (const auto& name : recent.names) {
    if (name && *name == text) {
      name_ = name;
      return;
    }
  }
  name_ = std::make_shared<const std::string>(text);
  recent.names[recent.next] = name_;
  recent.next = (recent.next + 1) % recent.names.size();
}

const std::string& WorldId::empty_name() noexcept {
  static const std::string empty;
  return empty;
}

std::string ProcId::to_string() const { return fmt::format("{}[{}]", world.name(), rank); }
std::string ActorId::to_string() const {
  return fmt::format("{}.{}[{}]", proc.to_string(), name, pid);
}
std::string PortId::to_string() const { return fmt::format("{}[{}]", actor.to_string(), index); }

std::ostream& operator<<(std::ostream& out, const WorldId& id) { return out << id.to_string(); }
std::ostream& operator<<(std::ostream& out, const ProcId& id) { return out << id.to_string(); }
std::ostream& operator<<(std::ostream& out, const ActorId& id) { return out << id.to_string(); }
std::ostream& operator<<(std::ostream& out, const PortId& id) { return out << id.to_string(); }

}  // namespace zmesh
