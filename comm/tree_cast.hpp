#pragma once
// Casting through the comm tree: the comm layer's entry points for actor meshes.
//   comm::cast(workers, parse_selection("*,0").value(), Step{7}, {.fanout = 2});
//   auto loss = comm::reduce<comm::Sum<double>>(
//       workers, Selection::all(),
//       [](comm::ReplyPort<double> reply_to) { return LossQuery{reply_to}; }, deadline_in(5s));
//   // loss->value, loss->contributors, loss->missing: rank -> why it gave nothing
// The actors reply with comm::reply(ctx, query.reply_to, value) (reply_port.hpp). Once the comm
// actor is registered (comm_actor.hpp), ActorMesh::cast and ::call travel the same tree with
// the default options, so every cast from one client to one actor keeps one FIFO order.
// A benchmark casts to all and waits for all replies with reduce<Count<T>> (or call), and
// keeps several casts in flight from several threads; tree_stats() shows the state held.
// Thread: thread-safe like ActorMesh; reduce blocks its caller until its deadline at the latest.
// Failure: Result errors for bad requests (a selection that does not fit the mesh's shape, no
// comm actors on its procs), too_large for a message over the size limit, backpressure when
// the links stay full (cast: for Config::delivery_timeout; reduce: until its deadline); ranks
// that gave nothing are in Reduced::missing, with the reason.

#include "zmesh/comm/reducer.hpp"
#include "zmesh/comm/reply_port.hpp"
#include "zmesh/comm/tree_router.hpp"
#include "zmesh/comm/value_mesh.hpp"
#include "zmesh/mesh/actor_mesh.hpp"

#include <map>
#include <optional>
#include <type_traits>

namespace zmesh::comm {

// The folded replies of a reduce: the value (none when no rank replied), how many ranks it
// folds, and, by rank of the cast's shape, every chosen rank that gave nothing and why.
template <class T>
struct Reduced {
  std::optional<T> value;
  std::uint64_t contributors = 0;
  std::map<std::uint32_t, Error> missing;
  bool complete() const { return missing.empty(); }
};

namespace internal {

Error no_tree(const ActorMeshBase& mesh);

template <class V>
struct IsValueMesh : std::false_type {};
template <class T>
struct IsValueMesh<ValueMesh<T>> : std::true_type {
  using Element = T;
};

// The client's value from the folded bytes.
template <class V>
Result<V> decode_reduced(std::string_view bytes, const Shape& shape) {
  if constexpr (IsValueMesh<V>::value) {
    using T = typename IsValueMesh<V>::Element;
    auto runs = unpack_bytes<std::vector<ValueRun<T>>>(bytes, "the gathered value mesh");
    if (!runs) return std::move(runs).error();
    return V(shape.extent(), std::move(*runs));
  } else {
    return unpack_bytes<V>(bytes, "the reduced value");
  }
}

}  // namespace internal

// Sends `message` to every actor of `mesh` that `selection` chooses, down the comm tree.
template <Message M>
Result<CastResult> cast(ActorMeshBase& mesh, const Selection& selection, const M& message,
                        const CastOptions& options = {}) {
  TreeRouter* tree = TreeRouter::of(mesh);
  if (tree == nullptr) return internal::no_tree(mesh);
  auto plan = mesh.plan_cast(selection);
  if (!plan) return std::move(plan).error();
  const Frames payload{encode(message)};
  if (auto fits = mesh.check_size(message_name<M>(), payload); !fits) return std::move(fits).error();
  auto sent = tree->send(CastOrder{mesh.name(), mesh.shape(), plan->result.cast_id,
                                   plan->base_ranks, message_name<M>(), payload, false},
                         options, mesh.room_deadline());
  if (!sent) return std::move(sent).error();
  return std::move(plan->result);
}

// Casts make_message(ReplyPort<R::Input>) to the chosen actors and folds their replies with
// reducer R on the way up; returns by `deadline` with what arrived.
template <Reducer R, class MakeMessage>
Result<Reduced<typename R::Value>> reduce(ActorMeshBase& mesh, const Selection& selection,
                                          MakeMessage make_message, Deadline deadline,
                                          const CastOptions& options = {}) {
  TreeRouter* tree = TreeRouter::of(mesh);
  if (tree == nullptr) return internal::no_tree(mesh);
  auto ops = reducer_ops<R>();
  if (!ops) return std::move(ops).error();
  auto plan = mesh.plan_cast(selection);
  if (!plan) return std::move(plan).error();
  const auto message = make_message(ReplyPort<typename R::Input>{plan->result.cast_id});
  using M = std::decay_t<decltype(message)>;
  const Frames payload{encode(message)};
  if (auto fits = mesh.check_size(message_name<M>(), payload); !fits) return std::move(fits).error();
  auto folded = tree->reduce(CastOrder{mesh.name(), mesh.shape(), plan->result.cast_id,
                                       plan->base_ranks, message_name<M>(), payload, true},
                             *ops, plan->result.skipped, deadline, options);
  Reduced<typename R::Value> reduced;
  reduced.contributors = folded.contributors;
  reduced.missing = std::move(folded.missing);
  if (folded.value) {
    auto value = internal::decode_reduced<typename R::Value>(*folded.value, mesh.shape());
    if (!value) return std::move(value).error();
    reduced.value = std::move(*value);
  }
  return reduced;
}

// What every live proc's comm actor of `mesh` holds, by rank; an error for a proc that did
// not answer by `deadline`.
Result<std::map<std::uint32_t, Result<CommStats>>> tree_stats(const ActorMeshBase& mesh,
                                                              Deadline deadline);

}  // namespace zmesh::comm
