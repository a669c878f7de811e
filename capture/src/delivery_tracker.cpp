#include "sluice/capture/delivery_tracker.hpp"

#include <cstdio>
#include <cstdlib>

namespace sluice::capture {

namespace {
[[noreturn]] void invariant_broken(const char* what) {
  std::fprintf(stderr, "sluice: delivery_tracker invariant broken: %s\n", what);
  std::abort();
}
}  // namespace

std::uint64_t delivery_tracker::current_token() {
  if (units_.empty() || units_.back().closed)
    units_.push_back(unit{next_token_++, 0, false, false, lsn{}});
  return units_.back().token;
}

delivery_tracker::unit* delivery_tracker::find(std::uint64_t token) {
  // Tokens are consecutive and units leave only from the front, so the index is arithmetic.
  if (units_.empty() || token < units_.front().token) return nullptr;
  const std::uint64_t index = token - units_.front().token;
  if (index >= units_.size()) return nullptr;
  return &units_[index];
}

void delivery_tracker::sent(std::uint64_t token, int copies) {
  unit* u = find(token);
  if (u == nullptr || u->closed) invariant_broken("records sent for a closed unit");
  u->remaining += static_cast<std::uint64_t>(copies);
  pending_records_ += static_cast<std::uint64_t>(copies);
}

void delivery_tracker::close_unit(lsn end) {
  current_token();
  units_.back().closed = true;
  units_.back().end = end;
  advance();
}

void delivery_tracker::acknowledged(std::uint64_t token) {
  unit* u = find(token);
  if (u == nullptr || u->remaining == 0) invariant_broken("acknowledgement for no pending record");
  --u->remaining;
  --pending_records_;
  advance();
}

void delivery_tracker::failed(std::uint64_t token, std::string error) {
  if (!failure_) failure_ = std::move(error);
  // The unit stays pending forever, so confirmable() can no longer pass it.
  if (unit* u = find(token); u != nullptr) u->lost = true;
}

void delivery_tracker::advance() {
  while (!units_.empty() && units_.front().closed && units_.front().remaining == 0 &&
         !units_.front().lost) {
    if (units_.front().end > confirmable_) confirmable_ = units_.front().end;
    units_.pop_front();
  }
}

}  // namespace sluice::capture
