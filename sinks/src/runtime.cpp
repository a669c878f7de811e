#include "sluice/sinks/runtime.hpp"

#include <algorithm>
#include <thread>

#include "sluice/schemas/log.hpp"
#include "sluice/sinks/event_decoder.hpp"

namespace sluice::sinks {
namespace {

constexpr std::string_view module = "sinks";
constexpr auto report_interval = std::chrono::seconds(5);
constexpr auto warn_interval = std::chrono::seconds(5);

using clock = std::chrono::steady_clock;

long long ms(clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

sink_runtime::sink_runtime(runtime_options options, record_source& source, sink_kind& kind,
                           dead_letter_queue* dead_letters)
    : options_(std::move(options)), source_(source), kind_(kind), dead_letters_(dead_letters) {
  if (options_.on_error == on_bad_event::dead_letter && dead_letters_ == nullptr) {
    throw std::invalid_argument("sink_runtime: on_error dead_letter needs a dead_letter_queue");
  }
  options_.hard_cap = std::max(options_.hard_cap, options_.max_batch_events);
}

run_outcome sink_runtime::run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  source_.set_assignment_handler(this);
  last_report_ = clock::now();
  auto last_source_warning = clock::time_point{};
  std::string last_source_error;
  while (!ended_) {
    if (stop.load()) {
      if (flush(true)) ended_ = run_outcome{run_outcome::status::stopped, "stopped", 0, 0, 0};
      break;
    }
    // A record already fetched comes back from poll(0) at once; only a poll that may wait gets
    // the linger deadline and is timed (time_waiting_). So while records flow, the clock is
    // read once per record, after poll(), and add() and the report use that reading.
    auto polled = source_.poll(0, incoming_);
    if (!ended_ && polled && !*polled) {
      const auto poll_start = clock::now();
      int timeout_ms = 100;
      if (!batch_.empty()) {
        const auto age = poll_start - batch_started_;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(options_.linger - age);
        timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
      }
      polled = source_.poll(timeout_ms, incoming_);
      now_ = clock::now();
      time_waiting_ += now_ - poll_start;
    } else {
      now_ = clock::now();
    }
    if (ended_) break;  // a rebalance callback inside poll() ended the run
    if (!polled) {
      if (polled.error().fatal) {
        flush(true);
        if (!ended_) {
          ended_ = run_outcome{run_outcome::status::failed,
                               "sink " + options_.sink_name +
                                   ": the record source failed: " + polled.error().message,
                               0, 0, 0};
        }
        break;
      }
      // Repeats while the condition lasts (a topic not created yet, a broker down): rate-limited.
      if (now_ - last_source_warning >= warn_interval ||
          polled.error().message != last_source_error) {
        last_source_warning = now_;
        last_source_error = polled.error().message;
        log(log_level::warn, module, "sink " + options_.sink_name + ": " + last_source_error);
      }
      continue;
    }
    if (*polled) {
      // Swapped, not copied: incoming_ takes the recycled event's buffers for the next poll.
      sink_event& e = batch_.start_next();
      swap(e.record, incoming_);
      add(e);
    } else {
      // Idle: apply what is pending, and commit what the last batches applied in time.
      flush();
    }
    if (now_ - last_report_ >= report_interval) {
      last_report_ = now_;
      log(log_level::info, module,
          "sink " + options_.sink_name + ": " + std::to_string(totals_.events_applied) +
              " events applied, " + std::to_string(totals_.events_skipped) +
              " not newer than the target (skipped), " + std::to_string(totals_.dead_lettered) +
              " dead-lettered; " + std::to_string(ms(time_applying_)) + " ms applying, " +
              std::to_string(ms(time_waiting_)) + " ms waiting for records");
    }
  }
  if (in_flight_result_.valid()) finish_in_flight();
  source_.close();
  run_outcome out = *ended_;
  out.events_applied = totals_.events_applied;
  out.events_skipped = totals_.events_skipped;
  out.dead_lettered = totals_.dead_lettered;
  return out;
}

void sink_runtime::add(sink_event& slot) {
  // `slot` is the recycled event just past the batch, holding the new record: every other
  // field is overwritten here (decoding reuses the memory it holds), and it joins the batch
  // only if it decoded.
  sink_event* e = &slot;
  auto& [where, state] = partition_of(e->record);
  std::string problem;
  e->tombstone_of.reset();
  if (auto key = decode_key(e->record.key, e->key); !key) {
    problem = "record key: " + key.error().message;
  } else if (e->record.value) {
    if (!e->change) e->change.emplace();
    if (auto change = decode_value(*e->record.value, *e->change); !change) {
      problem = change.error().message;
    } else {
      const auto& source = e->change->source;
      e->table.assign(source.schema).append(1, '.').append(source.table);
    }
  } else {
    e->change.reset();
    auto it = options_.tables_by_topic.find(e->record.topic);
    if (it == options_.tables_by_topic.end()) {
      problem = "tombstone on a topic of no configured table";
    } else {
      e->table = it->second;
      if (state.last_delete_key && *state.last_delete_key == e->record.key) {
        e->tombstone_of = state.last_delete_position;
      }
    }
  }
  if (!problem.empty()) {
    // Everything before the bad record is applied first, so the worker can stop exactly there.
    if (!flush(true)) return;
    state.last_delete_key.reset();
    handle_bad(e->record, problem);
    return;
  }

  const bool starts_transaction =
      e->change && (!state.has_last || e->change->source.commit_lsn != state.last_commit_lsn);
  // While the previous batch is still being applied, this one keeps growing (up to hard_cap)
  // instead of waiting: a target slower than the reading gets fewer, larger batches, and
  // pays each batch's fixed costs (round trips, a thread) less often.
  const bool due =
      (batch_.size() >= options_.max_batch_events || now_ - batch_started_ >= options_.linger) &&
      !still_applying();
  if (!batch_.empty() && ((due && starts_transaction) || batch_.size() >= options_.hard_cap)) {
    if (!flush()) return;
    // The flush handed the batch on (to the helper thread, or applied and cleared it) with the
    // slot of this event just past its end: move the event to the new batch's next slot.
    sink_event& next = batch_.start_next();
    if (&next != e) std::swap(next, *e);
    e = &next;
  }
  if (e->change) {
    state.has_last = true;
    state.last_commit_lsn = e->change->source.commit_lsn;
    if (e->change->op == schemas::op::remove) {
      state.last_delete_key = e->record.key;
      state.last_delete_position = e->change->source.pos();
    } else {
      state.last_delete_key.reset();
    }
  } else {
    state.last_delete_key.reset();
  }
  // A fresh reading: the flush above may have waited for the batch in flight.
  if (batch_.empty()) batch_started_ = clock::now();
  batch_.push_next(where);
}

sink_event& sink_runtime::event_buffer::start_next() {
  if (size_ == events_.size()) events_.emplace_back();
  sink_event& e = events_[size_];
  // Recycled buffers keep their size: an event that carried a large record is let go, so that
  // one huge row does not stay allocated in every slot it passes through.
  constexpr std::size_t max_recycled_bytes = 64 * 1024;
  if (e.record.key.capacity() > max_recycled_bytes ||
      (e.record.value && e.record.value->capacity() > max_recycled_bytes)) {
    e = sink_event{};
  }
  return e;
}

std::pair<const partition_ref, sink_runtime::partition_state>& sink_runtime::partition_of(
    const source_record& record) {
  // Records of one partition come in runs (a fetch brings many), so the map is searched only
  // when the partition changes; the entry stays valid until on_assigned/on_revoked erase.
  if (last_state_ == nullptr || last_state_->first.partition != record.partition ||
      last_state_->first.topic != record.topic) {
    last_state_ = &*partitions_.try_emplace(record.where()).first;
  }
  return *last_state_;
}

void sink_runtime::event_buffer::push_next(const partition_ref& where) {
  // Kept up to date here, while `where` is in cache, rather than found again for the whole
  // batch from each record's own topic string. Records of one partition come in runs, so
  // the last entry is usually the one.
  const std::int64_t next = events_[size_++].record.offset + 1;
  const auto is_where = [&where](const partition_offset& o) {
    return o.partition.partition == where.partition && o.partition.topic == where.topic;
  };
  auto it = !next_offsets_.empty() && is_where(next_offsets_.back())
                ? next_offsets_.end() - 1
                : std::find_if(next_offsets_.begin(), next_offsets_.end(), is_where);
  if (it == next_offsets_.end()) {
    next_offsets_.push_back({where, next});
  } else {
    it->next_offset = std::max(it->next_offset, next);
  }
}

std::vector<partition_offset> sink_runtime::event_buffer::next_offsets() const {
  auto sorted = next_offsets_;
  std::sort(sorted.begin(), sorted.end(), [](const partition_offset& a, const partition_offset& b) {
    return a.partition < b.partition;
  });
  return sorted;
}

namespace {

bool same_partition(const source_record& a, const source_record& b) {
  return a.partition == b.partition && a.topic == b.topic;
}

std::vector<partition_offset> next_offsets(std::span<const sink_event> events, std::size_t begin,
                                           std::size_t end) {
  // The next-offset of every partition in the range, once it is applied, in partition_ref
  // order. Keys point into the events (no copy per record) and a run of records of one
  // partition costs one lookup.
  std::map<std::pair<std::string_view, std::int32_t>, std::int64_t> next;
  const source_record* run_start = nullptr;
  std::int64_t* run_next = nullptr;
  for (std::size_t i = begin; i < end; ++i) {
    const auto& r = events[i].record;
    if (run_start == nullptr || !same_partition(r, *run_start)) {
      run_start = &r;
      run_next = &next[{r.topic, r.partition}];
    }
    *run_next = std::max(*run_next, r.offset + 1);
  }
  std::vector<partition_offset> offsets;
  offsets.reserve(next.size());
  for (const auto& [p, n] : next) offsets.push_back({{std::string(p.first), p.second}, n});
  return offsets;
}

}  // namespace

bool sink_runtime::flush(bool commit_now) {
  bool ok = finish_in_flight();
  if (ok && !batch_.empty()) {
    if (options_.overlap && !commit_now) {
      // A swap, not a move: batch_ takes the emptied in-flight vector and keeps its capacity,
      // so a batch does not grow (and move every event) from zero each time.
      std::swap(batch_, in_flight_);
      in_flight_offsets_ = in_flight_.next_offsets();
      in_flight_result_ = std::async(std::launch::async, [this] {
        const auto start = clock::now();
        auto r = kind_.apply(in_flight_.view(), in_flight_offsets_);
        in_flight_duration_ = clock::now() - start;  // read after get(), which synchronises
        return r;
      });
      return true;
    }
    ok = apply_range(batch_, 0, batch_.size());
    batch_.clear();
  }
  if (!ok) batch_.clear();
  if (ok) ok = commit_pending(commit_now);
  if (ok && options_.after_batch) options_.after_batch(applied_);
  return ok && !ended_;
}

bool sink_runtime::still_applying() const {
  return in_flight_result_.valid() &&
         in_flight_result_.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
}

bool sink_runtime::finish_in_flight() {
  if (!in_flight_result_.valid()) return !ended_;
  auto result = in_flight_result_.get();
  time_applying_ += in_flight_duration_;
  bool ok = true;
  if (result) {
    record_applied(in_flight_offsets_, *result);
  } else {
    // A bad event or a failing target: the batch is applied again, here, with the handling
    // apply_range gives (nothing of it was applied, or applying it again is idempotent).
    ok = apply_range(in_flight_, 0, in_flight_.size());
  }
  in_flight_.clear();
  if (ok) ok = commit_pending(false);
  if (ok && options_.after_batch) options_.after_batch(applied_);
  return ok && !ended_;
}

void sink_runtime::record_applied(const std::vector<partition_offset>& offsets,
                                  const apply_stats& stats) {
  totals_.events_applied += stats.written;
  totals_.events_skipped += stats.skipped;
  for (const auto& o : offsets) {
    applied_[o.partition] = std::max(applied_[o.partition], o.next_offset);
    uncommitted_[o.partition] = std::max(uncommitted_[o.partition], o.next_offset);
  }
}

bool sink_runtime::apply_range(event_buffer& events, std::size_t begin, std::size_t end) {
  auto delay = options_.retry_min;
  auto last_warning = clock::time_point{};
  while (begin < end) {
    const auto offsets = next_offsets(events.view(), begin, end);
    const auto apply_start = clock::now();
    auto result = kind_.apply(events.view().subspan(begin, end - begin), offsets);
    time_applying_ += clock::now() - apply_start;
    if (result) {
      record_applied(offsets, *result);
      return true;
    }
    if (const auto* bad = std::get_if<bad_event>(&result.error())) {
      const std::size_t index = begin + bad->index;
      const std::string reason = bad->reason;
      if (!apply_range(events, begin, index)) return false;
      if (!handle_bad(events[index].record, reason)) return false;
      begin = index + 1;
      delay = options_.retry_min;
      continue;
    }
    const auto& failure = std::get<target_failure>(result.error());
    if (!failure.retriable) {
      ended_ = run_outcome{run_outcome::status::failed,
                           "sink " + options_.sink_name + ": " + failure.message, 0, 0, 0};
      return false;
    }
    if (stop_ != nullptr && stop_->load()) {
      ended_ = run_outcome{run_outcome::status::failed,
                           "sink " + options_.sink_name +
                               ": stopping while the target is unavailable (" + failure.message +
                               "); offsets stay at the last applied batch",
                           0, 0, 0};
      return false;
    }
    if (clock::now() - last_warning >= warn_interval) {
      last_warning = clock::now();
      log(log_level::warn, module,
          "sink " + options_.sink_name + ": " + failure.message + "; retrying");
    }
    backoff(delay);
  }
  return true;
}

bool sink_runtime::handle_bad(const source_record& record, const std::string& reason) {
  const std::string what = "cannot apply " + record.describe() + ": " + reason;
  if (options_.on_error == on_bad_event::stop) {
    commit_pending(true);
    ended_ = run_outcome{run_outcome::status::bad_event,
                         "sink " + options_.sink_name + ": " + what +
                             "; stopping (every earlier record is applied and committed; remove "
                             "the cause, or set on_error: dead_letter)",
                         0, 0, 0};
    return false;
  }
  auto delay = options_.retry_min;
  for (;;) {
    auto sent = dead_letters_->send(record, reason);
    if (sent) break;
    if (stop_ != nullptr && stop_->load()) {
      ended_ = run_outcome{run_outcome::status::failed,
                           "sink " + options_.sink_name + ": " + what +
                               "; the dead-letter queue failed: " + sent.error(),
                           0, 0, 0};
      return false;
    }
    log(log_level::warn, module,
        "sink " + options_.sink_name + ": dead-letter queue: " + sent.error() + "; retrying");
    backoff(delay);
  }
  log(log_level::warn, module,
      "sink " + options_.sink_name + ": " + what + "; sent to the dead-letter queue");
  ++totals_.dead_lettered;
  const partition_ref where = record.where();
  applied_[where] = std::max(applied_[where], record.offset + 1);
  uncommitted_[where] = std::max(uncommitted_[where], record.offset + 1);
  return true;
}

bool sink_runtime::commit_pending(bool now) {
  if (uncommitted_.empty()) return true;
  if (!options_.commit_offsets) {
    uncommitted_.clear();
    return true;
  }
  if (!now && clock::now() - last_commit_ < options_.commit_interval) return true;
  last_commit_ = clock::now();
  std::vector<partition_offset> offsets;
  for (const auto& [p, n] : uncommitted_) offsets.push_back({p, n});
  uncommitted_.clear();
  if (auto ok = source_.commit(offsets); !ok) {
    // The data is applied and idempotent: a later commit, or a redelivery, makes up for it.
    log(log_level::warn, module,
        "sink " + options_.sink_name + ": commit failed: " + ok.error().message);
  }
  return true;
}

void sink_runtime::backoff(std::chrono::milliseconds& delay) {
  std::this_thread::sleep_for(delay);
  delay = std::min(delay * 2, options_.retry_max);
}

std::vector<std::optional<std::int64_t>> sink_runtime::on_assigned(
    const std::vector<partition_ref>& partitions) {
  finish_in_flight();  // the kind is never used from two threads at once
  auto starts = kind_.resume_offsets(partitions);
  starts.resize(partitions.size());
  std::string names;
  last_state_ = nullptr;
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    partitions_.erase(partitions[i]);
    if (starts[i]) applied_[partitions[i]] = *starts[i];
    names += (names.empty() ? "" : ", ") + partitions[i].to_string() + "@" +
             (starts[i] ? std::to_string(*starts[i]) : std::string("committed"));
  }
  log(log_level::info, module,
      "sink " + options_.sink_name + ": assigned " + std::to_string(partitions.size()) +
          " partitions: " + names);
  return starts;
}

void sink_runtime::on_revoked(const std::vector<partition_ref>& partitions) {
  // Still ours until we return: apply and commit what we hold for them (and for the rest).
  flush(true);
  last_state_ = nullptr;
  for (const auto& p : partitions) {
    partitions_.erase(p);
    applied_.erase(p);
    uncommitted_.erase(p);
  }
  log(log_level::info, module,
      "sink " + options_.sink_name + ": revoked " + std::to_string(partitions.size()) +
          " partitions");
}

}  // namespace sluice::sinks
