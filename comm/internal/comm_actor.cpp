#include "zmesh/comm/internal/comm_actor.hpp"

#include "zmesh/comm/internal/cast_control_frames.hpp"
#include "zmesh/comm/internal/rank_runs.hpp"
#include "zmesh/comm/routing.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/mesh/cast_info.hpp"

#include <fmt/ranges.h>

namespace zmesh::comm {
namespace {

using internal::CastControl;
using internal::CloseGeneration;
using internal::Contribution;
using internal::Partial;
using internal::ProcLost;
using internal::SkipCasts;
using internal::SlotLost;
using internal::Unreached;
using internal::Wake;

// Each cast names its own shape; a client seldom uses more than a few.
constexpr std::size_t max_cached_shapes = 64;
// Ranks (and rank runs) the reused decode keeps room for between casts: one cast to a huge
// subtree must not pin its memory for the life of the proc.
constexpr std::size_t max_kept_ranks = 4096;

}  // namespace

CommActor::CommActor(const Params&) {
  // Forwarding and folding only queue messages: on the I/O thread a cast goes on at once.
  handlers_never_block();
  on_raw(std::string(message_name<CastControl>()),
         [this](Context& ctx, Envelope& envelope) { return cast(ctx, envelope); });
  on_raw(std::string(message_name<ReplyMessage>()), [this](Context& ctx, Envelope& envelope) {
    reply(ctx, envelope);
    return Result<void>{};
  });
  on<Partial>(&CommActor::partial);
  on<SlotLost>(&CommActor::slot_lost);
  on<SkipCasts>(&CommActor::skip);
  on<Unreached>(&CommActor::unreached);
  on<CloseGeneration>(&CommActor::close_generation);
  on<ProcLost>(&CommActor::proc_lost);
  on<Wake>(&CommActor::wake);
  on<CommStatsQuery>(&CommActor::stats);
}

void CommActor::init(Context& ctx) {
  // The reducers this program added to its registry (add_reducer), besides the built-ins.
  if (const auto& registry = ctx.proc().registry()) {
    if (auto table = registry->extension<const ReducerTable>()) reducers_ = *table;
  }
  rank_ = ctx.proc().id().rank;
  counters_.rank = rank_;
  log_.emplace("zmesh.comm", "proc=" + ctx.proc().id().to_string(), ctx.proc().config().log_level);
  // A live hop delivers within the delivery timeout or returns the cast as undeliverable, so
  // a gap that outlasts it is a cast lost with a dead relay. Once the client says a proc died,
  // the casts sent before it knew are on their way within a few heartbeats (they left before
  // the death was noticed) or lost with it: that is the grace.
  const Config& config = ctx.proc().config();
  sequencer_.emplace(config.delivery_timeout,
                     std::min<Clock::duration>(config.delivery_timeout, 4 * config.heartbeat_interval));
  // One timer thread per program: the registry's (zmesh::init put it there). A comm actor
  // spawned from a registry without one (install_comm_tree not called) gets its own.
  std::shared_ptr<internal::TimerService> timers;
  if (const auto& registry = ctx.proc().registry()) {
    timers = registry->extension<internal::TimerService>();
  }
  if (!timers) timers = std::make_shared<internal::TimerService>();
  timer_ = timers->add([proc = &ctx.proc(), self = ctx.self()] {
    proc->deliver(make_envelope(self, handler_port<Wake>(self).id, Wake{}));
  });
}

void CommActor::cleanup(Context&) { timer_.reset(); }

// -- casts going down --

Result<const Shape*> CommActor::shape_of(const std::string& text) {
  if (auto it = shapes_.find(text); it != shapes_.end()) return &it->second;
  auto shape = Shape::parse(text);
  if (!shape) return std::move(shape).error();
  if (shapes_.size() >= max_cached_shapes) shapes_.clear();
  return &shapes_.emplace(text, std::move(*shape)).first->second;
}

Result<void> CommActor::decode_control(const Frame& frame) {
  if (control_.ranks.capacity() > max_kept_ranks) control_.ranks = {};
  if (ranks_.ranks.capacity() > max_kept_ranks) ranks_ = {};
  try {
    const msgpack::object root = unpack_scratch(frame.data(), frame.size());
    if (root.type != msgpack::type::ARRAY || root.via.array.size < internal::cast_control_fields) {
      return Error(ErrorCode::decode_error,
                   fmt::format("cannot decode {} from {} bytes: not an array of at least {} "
                               "fields",
                               message_name<CastControl>(), frame.size(),
                               internal::cast_control_fields));
    }
    root.convert(control_);
  } catch (const std::exception& e) {
    return Error(ErrorCode::decode_error,
                 fmt::format("cannot decode {} from {} bytes: {}", message_name<CastControl>(),
                             frame.size(), e.what()));
  }
  return {};
}

Result<void> CommActor::cast(Context& ctx, Envelope& envelope) {
  if (envelope.payload.empty()) {
    return Error(ErrorCode::decode_error, "a cast arrived without its control frame");
  }
  if (auto decoded = decode_control(envelope.payload.front()); !decoded) {
    return std::move(decoded).error();
  }
  const CastControl* control = &control_;
  auto cached_shape = shape_of(control->shape);
  if (!cached_shape) return std::move(cached_shape).error();
  const Shape* shape = *cached_shape;
  if (auto expanded = internal::expand(control->ranks, *shape, ranks_); !expanded) {
    return std::move(expanded).error();
  }
  const internal::RankList* list = &ranks_;
  if (list->ranks.empty() || list->ranks.front() != rank_) {
    return Error(ErrorCode::undeliverable,
                 fmt::format("cast {} of {} reached rank {}, but the subtree it carries starts at "
                             "rank {}: the sender cut its tree wrong",
                             control->cast_id, control->mesh, rank_,
                             list->ranks.empty() ? 0 : list->ranks.front()));
  }
  auto view_rank = shape->view_rank_of(rank_);
  if (!view_rank) return std::move(view_rank).error();

  // Flow control: a cast this proc's actor or a child link has no room for waits in this
  // mailbox (the cell retries it when room appears), which in turn fills and pushes back on
  // whoever sends to us. Nothing is sent before there is room for all of it.
  const PortId local{ActorId{ctx.proc().id(), control->actor, 0},
                     message_port_index(control->type_name)};
  if (!ctx.proc().has_room(local, queued_bytes(envelope))) {
    ++counters_.stalls;
    return Error(ErrorCode::backpressure, "the local actor's mailbox is full");
  }
  // Children first: they need not wait for this proc's actor.
  auto parts = forward(ctx, *control, *list, envelope);
  if (!parts) return std::move(parts).error();
  ++counters_.casts;  // after the room checks: a stalled cast is counted once, when it goes
  const CastKey key{control->origin, control->actor, control->cast_id};
  const bool reducing = control->reduce && start_reduction(*control, *shape, list->ranks, *parts);

  const bool taken = sequencer_->offer(
      internal::StreamKey{control->origin, control->actor}, control->generation,
      list->counters.front(),
      delivery_of(ctx, *control, *shape, static_cast<std::uint32_t>(*view_rank), envelope),
      Clock::now(), [&](Envelope&& ready) { deliver(ctx, std::move(ready)); });
  if (auto it = pending_.find(key); reducing && it != pending_.end()) {
    if (!taken) {
      it->second.reduction.lose(
          rank_,
          Error(ErrorCode::cancelled,
                fmt::format("cast {} of {} reached {} after its turn had been given up, "
                            "so it was not delivered",
                            control->cast_id, control->mesh, internal::rank_text(*shape, rank_))));
    }
    flush_if_complete(ctx, it);
  }
  arm_timer();
  return {};
}

Result<std::vector<internal::Reduction::Part>> CommActor::forward(Context& ctx,
                                                                  const CastControl& control,
                                                                  const internal::RankList& list,
                                                                  const Envelope& envelope) {
  std::vector<internal::Reduction::Part> parts{{rank_, 0, 1}};
  if (list.ranks.size() == 1) return parts;
  auto plan =
      DeliveryPlan::over_ranks(std::vector<std::size_t>(list.ranks.begin() + 1, list.ranks.end()),
                               std::max<std::uint32_t>(1, control.fanout));
  if (!plan) return std::move(plan).error();
  CastControl child = control;
  if (child.reduce) {
    child.reduction.reply_to = handler_port<Partial>(ctx.self()).id;
    const auto& spec = control.reduction;
    child.reduction.budget_ms =
        spec.budget_ms > spec.margin_ms ? spec.budget_ms - spec.margin_ms : 0;
  }
  const auto port = message_port_index(message_name<CastControl>());
  auto comm_port = [&](std::size_t rank) {
    return PortId{ActorId{ProcId{ctx.proc().id().world, static_cast<std::uint32_t>(rank)},
                          std::string(comm_actor_name), 0},
                  port};
  };
  internal::CastControlFrames frames(child);
  const std::size_t bytes = queued_bytes(envelope);
  const auto heads = plan->root_children();
  for (std::size_t head : heads) {
    if (!ctx.proc().has_room(comm_port(head), bytes)) {
      ++counters_.stalls;
      return Error(ErrorCode::backpressure, fmt::format("the link to rank {} is full", head));
    }
  }
  for (std::size_t head : heads) {
    auto subtree = plan->subtree_of(head).value();
    const auto begin = static_cast<std::size_t>(subtree.data() - plan->ranks().data()) + 1;
    parts.push_back({static_cast<std::uint32_t>(head), begin, begin + subtree.size()});
    Envelope forwarded;
    forwarded.destination = comm_port(head);
    forwarded.type_name = envelope.type_name;
    forwarded.payload.reserve(envelope.payload.size());
    forwarded.payload.push_back(
        frames.with_ranks(subtree, std::span(list.counters).subspan(begin, subtree.size())));
    forwarded.payload.insert(forwarded.payload.end(), envelope.payload.begin() + 1,
                             envelope.payload.end());
    ctx.send(std::move(forwarded));
  }
  return parts;
}

Envelope CommActor::delivery_of(Context& ctx, const CastControl& control, const Shape& shape,
                                std::uint32_t view_rank, const Envelope& envelope) {
  Envelope delivery;
  delivery.sender = control.origin;
  delivery.destination =
      PortId{ActorId{ctx.proc().id(), control.actor, 0}, message_port_index(control.type_name)};
  delivery.type_name = control.type_name;
  for (const auto& [name, encoded] : control.headers) delivery.headers.set_raw(name, encoded);
  delivery.headers.set_raw(std::string(cast_header_key),
                          encode_cast_header(control.mesh, control.cast_id, control.origin, view_rank,
                                             shape.labels(), shape.extent().sizes()));
  if (control.reduce) {
    // The actor's return value comes back here, tagged with its cast and rank, to be folded.
    const Contribution tag{control.origin, control.actor, control.cast_id, view_rank, {}};
    delivery.headers.set(std::string(reply_route_key),
                         ReplyRoute{handler_port<ReplyMessage>(ctx.self()).id, pack_bytes(tag)});
  }
  delivery.payload.assign(envelope.payload.begin() + 1, envelope.payload.end());
  return delivery;
}

void CommActor::deliver(Context& ctx, Envelope&& delivery) {
  // Delivered as sent by the origin: the actor sees who cast, and an undeliverable goes back
  // to the client, which attributes it to the actor mesh. An actor that never blocks runs at
  // once on this thread, saving a hand-off.
  ctx.proc().deliver(std::move(delivery), /*may_run_here=*/true);
}

// -- replies going up --

bool CommActor::start_reduction(const CastControl& control, const Shape& shape,
                                const std::vector<std::size_t>& ranks,
                                const std::vector<internal::Reduction::Part>& parts) {
  std::vector<std::uint32_t> view_ranks;
  view_ranks.reserve(ranks.size());
  for (auto base : ranks) {
    auto view = shape.view_rank_of(base);
    view_ranks.push_back(static_cast<std::uint32_t>(view ? *view : base));
  }
  const ReducerOps* ops = reducers_.find(control.reduction.reducer);
  const auto budget = std::chrono::milliseconds(control.reduction.budget_ms);
  auto [it, inserted] = pending_.try_emplace(
      CastKey{control.origin, control.actor, control.cast_id},
      Pending{internal::Reduction(ops, std::move(view_ranks), parts), control.reduction.reply_to,
              Clock::now() + budget, control.mesh, shape, control.reduction.budget_ms});
  if (!inserted) {
    log_->warn("ZM-CAST-TWICE cast {} of {} arrived at rank {} a second time; ignored",
               control.cast_id, control.mesh, rank_);
    return false;
  }
  if (ops == nullptr) {
    const Error unknown(ErrorCode::not_found,
                        fmt::format("cast {} of {}: reducer \"{}\" is not registered on rank {} "
                                    "(registered: {}); add it with zmesh::add_reducer<Reducer>(*registry)"
                                    " before zmesh::init",
                                    control.cast_id, control.mesh, control.reduction.reducer, rank_,
                                    fmt::join(reducers_.names(), ", ")));
    for (const auto& part : parts) it->second.reduction.lose(part.head, unknown);
  }
  return true;
}

void CommActor::reply(Context& ctx, const Envelope& envelope) {
  // The tag says which cast and rank; only the actor that cast reached, on this proc, may
  // answer it (anything else naming this port is forged or misdirected).
  auto tag = envelope.headers.get<std::string>(reply_tag_key);
  if (!tag) return;
  auto reply = unpack_bytes<Contribution>(*tag, "a reply's tag");
  if (!reply || envelope.sender.proc != ctx.proc().id() || envelope.sender.name != reply->actor ||
      envelope.sender.pid != 0) {
    return;
  }
  auto it = pending_.find(CastKey{reply->origin, reply->actor, reply->cast_id});
  if (it == pending_.end()) {
    ++counters_.dropped_late;
    return;
  }
  if (auto error = zmesh::internal::reply_error(envelope)) {
    it->second.reduction.lose(rank_, *error);
  } else if (envelope.payload.empty()) {
    it->second.reduction.lose(rank_, Error(ErrorCode::decode_error,
                                           fmt::format("the reply of {} has no value",
                                                       envelope.sender.to_string())));
  } else {
    it->second.reduction.contribute(rank_, reply->rank, envelope.payload);
  }
  flush_if_complete(ctx, it);
}

void CommActor::partial(Context& ctx, const Partial& partial) {
  auto it = pending_.find(CastKey{partial.origin, partial.actor, partial.cast_id});
  if (it == pending_.end()) {
    ++counters_.dropped_late;
    return;
  }
  it->second.reduction.report(partial.from, partial);
  flush_if_complete(ctx, it);
}

void CommActor::slot_lost(Context& ctx, const SlotLost& lost) {
  auto it = pending_.find(CastKey{lost.origin, lost.actor, lost.cast_id});
  if (it == pending_.end()) return;  // reported already
  it->second.reduction.lose(lost.part, lost.reason);
  flush_if_complete(ctx, it);
}

void CommActor::flush_if_complete(Context& ctx, PendingMap::iterator it) {
  if (it->second.reduction.complete()) flush(ctx, it);
}

void CommActor::flush(Context& ctx, PendingMap::iterator it) {
  const CastKey& key = it->first;
  const Pending& pending = it->second;
  auto folded = pending.reduction.finish([&](const internal::Reduction::Part& part) {
    const auto who = internal::rank_text(pending.shape, part.head);
    return part.head == rank_
               ? Error(ErrorCode::timeout,
                       fmt::format("cast {} of {}: {} did not reply within {} ms", key.cast_id,
                                   pending.mesh, who, pending.budget_ms))
               : Error(ErrorCode::timeout,
                       fmt::format("cast {} of {}: no reply from {} or the ranks it relays to "
                                   "within {} ms",
                                   key.cast_id, pending.mesh, who, pending.budget_ms));
  });
  std::vector<Bytes> value;
  if (folded.value) {
    for (auto& frame : *folded.value) value.emplace_back(std::move(frame));
  }
  Partial up{key.origin,
             key.actor,
             key.cast_id,
             rank_,
             folded.value.has_value(),
             std::move(value),
             folded.contributors,
             std::move(folded.missing)};
  ctx.send(PortRef<Partial>{pending.reply_to}, up);
  pending_.erase(it);
}

// -- time, skips and stats --

void CommActor::skip(Context& ctx, const SkipCasts& skip) {
  const internal::StreamKey stream{skip.origin, skip.actor};
  for (auto counter : skip.counters) {
    sequencer_->skip(stream, skip.generation, counter, Clock::now(),
                     [&](Envelope&& ready) { deliver(ctx, std::move(ready)); });
  }
  arm_timer();
}

void CommActor::unreached(Context& ctx, const Unreached& unreached) {
  const bool skipped = sequencer_->skip(
      internal::StreamKey{unreached.origin, unreached.actor}, unreached.generation,
      unreached.counter, Clock::now(), [&](Envelope&& ready) { deliver(ctx, std::move(ready)); });
  arm_timer();
  if (!skipped) return;  // the cast came: the actor answers for itself
  // The cast will never run here now, so the call gets its answer at once, from the actor
  // it asked (as its gather expects), carrying why.
  Headers headers;
  headers.set(std::string(reply_error_key), unreached.reason);
  ctx.proc().send(Envelope{ActorId{ctx.proc().id(), unreached.actor, 0}, unreached.reply_to,
                           std::string(message_name<ReplyMessage>()), std::move(headers), {}, {}});
}

void CommActor::close_generation(Context& ctx, const CloseGeneration& close) {
  sequencer_->close(close.origin, close.generation, close.last, Clock::now(),
                    [&](Envelope&& ready) { deliver(ctx, std::move(ready)); });
  arm_timer();
}

void CommActor::proc_lost(Context&, const ProcLost& lost) {
  sequencer_->lost(lost.origin, lost.generation, lost.upto);
  arm_timer();
}

void CommActor::wake(Context& ctx, const Wake&) {
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (it->second.due <= now) flush(ctx, it);
    it = next;
  }
  const auto given_up = sequencer_->given_up();
  sequencer_->expire(now, [&](Envelope&& ready) { deliver(ctx, std::move(ready)); });
  if (sequencer_->given_up() > given_up) {
    log_->warn(
        "ZM-CAST-GAP rank {}: gave up waiting for {} cast(s) after the delivery timeout ({} ms), "
        "or a short grace once a proc died (lost with a dead relay?); delivering the casts "
        "that followed them",
        rank_, sequencer_->given_up() - given_up, ctx.proc().config().delivery_timeout.count());
  }
  arm_timer();
}

void CommActor::arm_timer() {
  std::optional<Clock::time_point> next = sequencer_->next_expiry();
  for (const auto& [key, pending] : pending_) {
    if (!next || pending.due < *next) next = pending.due;
  }
  if (next) timer_->arm(*next);
}

void CommActor::stats(Context& ctx, const CommStatsQuery& query) {
  CommStats stats = counters_;
  stats.reductions = pending_.size();
  stats.held = sequencer_->held();
  stats.arrived_early = sequencer_->arrived_early();
  stats.streams = sequencer_->streams();
  stats.dropped_late += sequencer_->dropped_late();
  stats.gaps_given_up = sequencer_->given_up();
  ctx.send(query.reply_to, stats);
}

void CommActor::on_undeliverable(Context& ctx, const Undeliverable& returned) {
  if (returned.type_name != message_name<CastControl>()) {
    // A partial whose parent (or client) is gone, or a late wake: nothing waits for it here.
    log_->info("{} to {} came back: {}", returned.type_name, returned.destination.to_string(),
               returned.reason.describe());
    return;
  }
  ++counters_.forward_failures;
  const std::uint32_t child = returned.destination.actor.proc.rank;
  if (forward_warnings_.allow()) {
    log_->warn(
        "ZM-CAST-FORWARD rank {} could not pass a cast on to base rank {}: {} ({} more "
        "suppressed)",
        rank_, child, returned.reason.describe(), forward_warnings_.suppressed());
  }
  // The undeliverable does not say which cast: every reduction waiting on that child lost it.
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (it->second.reduction.waiting_for(child)) {
      it->second.reduction.lose(
          child, Error(ErrorCode::undeliverable,
                       fmt::format(
                           "cast {} of {}: {} could not be reached from {}: {}", it->first.cast_id,
                           it->second.mesh, internal::rank_text(it->second.shape, child),
                           internal::rank_text(it->second.shape, rank_), returned.reason.message)));
      flush_if_complete(ctx, it);
    }
    it = next;
  }
}

}  // namespace zmesh::comm
