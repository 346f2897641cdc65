#pragma once
// Ids of the things messages are addressed to, each with a text form that round-trips:
//   WorldId  "training"                    a named group of procs (one mesh allocation)
//   ProcId   "training[3]"                 proc of rank 3 in that world
//   ActorId  "training[3].trainer[0]"      actor "trainer", instance 0 (children: pid > 0)
//   PortId   "training[3].trainer[0][7]"   port 7 of that actor
// Names use letters, digits, '_' and '-'. Parsing reports the column of the bad character.
// Thread: value types.

#include "zmesh/core/error.hpp"

#include <msgpack.hpp>

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace zmesh {

// The name is shared, not copied, by copies of the id: every message carries ids of its
// sender and destination, and copying the name string cost an allocation each time.
class WorldId {
 public:
  WorldId() = default;
  WorldId(std::string name)  // NOLINT: implicit, so that WorldId{"training"} reads as before
      : name_(std::make_shared<const std::string>(std::move(name))) {}

  static Result<WorldId> parse(std::string_view text);
  const std::string& name() const noexcept { return name_ ? *name_ : empty_name(); }
  std::string to_string() const { return name(); }
  friend std::strong_ordering operator<=>(const WorldId& a, const WorldId& b) {
    if (a.name_ == b.name_) return std::strong_ordering::equal;
    return a.name().compare(b.name()) <=> 0;
  }
  friend bool operator==(const WorldId& a, const WorldId& b) {
    return a.name_ == b.name_ || a.name() == b.name();
  }

  // msgpack: a one-element array holding the name, as a struct with MSGPACK_DEFINE(name).
  template <class Packer>
  void msgpack_pack(Packer& packer) const {
    packer.pack_array(1);
    packer.pack(name());
  }
  // Shares the name of a world this thread decoded recently (ids.cpp), so that decoding
  // the ids of a message does not allocate; an empty name allocates nothing either.
  void msgpack_unpack(const msgpack::object& object);
  void msgpack_object(msgpack::object* object, msgpack::zone& zone) const {
    msgpack::type::make_define_array(name()).msgpack_object(object, zone);
  }

 private:
  static const std::string& empty_name() noexcept;
  std::shared_ptr<const std::string> name_;
};

struct ProcId {
  WorldId world;
  std::uint32_t rank = 0;

  static Result<ProcId> parse(std::string_view text);
  std::string to_string() const;
  friend auto operator<=>(const ProcId&, const ProcId&) = default;
  MSGPACK_DEFINE(world, rank);
};

struct ActorId {
  ProcId proc;
  std::string name;
  std::uint32_t pid = 0;  // 0 for the root actor of this name; children get 1, 2, ...

  static Result<ActorId> parse(std::string_view text);
  std::string to_string() const;
  friend auto operator<=>(const ActorId&, const ActorId&) = default;
  MSGPACK_DEFINE(proc, name, pid);
};

struct PortId {
  ActorId actor;
  std::uint64_t index = 0;

  static Result<PortId> parse(std::string_view text);
  std::string to_string() const;
  friend auto operator<=>(const PortId&, const PortId&) = default;
  MSGPACK_DEFINE(actor, index);
};

// Whether `name` is usable as a world or actor name; the error names the bad character.
Result<void> check_name(std::string_view name, std::string_view what);

std::ostream& operator<<(std::ostream& out, const WorldId& id);
std::ostream& operator<<(std::ostream& out, const ProcId& id);
std::ostream& operator<<(std::ostream& out, const ActorId& id);
std::ostream& operator<<(std::ostream& out, const PortId& id);

}  // namespace zmesh

template <>
struct std::hash<zmesh::ProcId> {
  std::size_t operator()(const zmesh::ProcId& id) const noexcept {
    return std::hash<std::string>{}(id.world.name()) * 31 + id.rank;
  }
};
template <>
struct std::hash<zmesh::ActorId> {
  std::size_t operator()(const zmesh::ActorId& id) const noexcept {
    return (std::hash<zmesh::ProcId>{}(id.proc) * 31 + std::hash<std::string>{}(id.name)) * 31 +
           id.pid;
  }
};
template <>
struct std::hash<zmesh::PortId> {
  std::size_t operator()(const zmesh::PortId& id) const noexcept {
    return std::hash<zmesh::ActorId>{}(id.actor) * 31 + std::hash<std::uint64_t>{}(id.index);
  }
};
