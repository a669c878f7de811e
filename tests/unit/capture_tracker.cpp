// delivery_tracker: the slot may be confirmed up to the end of a unit (a source transaction, or
// an empty unit for a keepalive position) only when Kafka acknowledged every record of it and
// of every unit before it. Acknowledgements arrive in any order across partitions.

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "sluice/capture/delivery_tracker.hpp"

namespace {

using sluice::capture::delivery_tracker;
using sluice::schemas::lsn;

/// Opens a unit, records `copies` records in it and closes it at `end`; returns its token.
std::uint64_t unit_of(delivery_tracker& t, int copies, std::uint64_t end) {
  const std::uint64_t token = t.current_token();
  if (copies > 0) t.sent(token, copies);
  t.close_unit(lsn{end});
  return token;
}

void acknowledge(delivery_tracker& t, std::uint64_t token, int times = 1) {
  for (int i = 0; i < times; ++i) t.acknowledged(token);
}

}  // namespace

TEST_CASE("delivery_tracker: nothing is confirmable at first", "[unit][capture]") {
  delivery_tracker t;
  CHECK(t.confirmable() == lsn{});
  CHECK(t.pending_units() == 0);
  CHECK(t.pending_records() == 0);
  CHECK_FALSE(t.failure().has_value());
}

TEST_CASE("delivery_tracker: a unit is confirmable once all its records are acknowledged",
          "[unit][capture]") {
  delivery_tracker t;
  const std::uint64_t token = t.current_token();
  CHECK(t.current_token() == token);  // the open unit keeps its token
  t.sent(token, 2);
  t.sent(token, 3);  // a truncate: one copy per partition
  CHECK(t.pending_records() == 5);
  t.close_unit(lsn{0x100});
  CHECK(t.pending_units() == 1);

  acknowledge(t, token, 4);
  CHECK(t.confirmable() == lsn{});
  CHECK(t.pending_records() == 1);
  acknowledge(t, token);
  CHECK(t.confirmable() == lsn{0x100});
  CHECK(t.pending_units() == 0);
  CHECK(t.pending_records() == 0);
}

TEST_CASE("delivery_tracker: an open unit is never confirmable", "[unit][capture]") {
  delivery_tracker t;
  const std::uint64_t token = t.current_token();
  t.sent(token, 1);
  acknowledge(t, token);
  // All its records are in Kafka, but the transaction may still send more.
  CHECK(t.confirmable() == lsn{});
  CHECK(t.pending_units() == 1);
  t.close_unit(lsn{0x200});
  CHECK(t.confirmable() == lsn{0x200});
}

TEST_CASE("delivery_tracker: out-of-order acknowledgements across units", "[unit][capture]") {
  delivery_tracker t;
  const auto a = unit_of(t, 2, 0x100);
  const auto b = unit_of(t, 1, 0x200);
  const auto c = unit_of(t, 2, 0x300);
  CHECK(a != b);
  CHECK(b != c);
  CHECK(t.pending_units() == 3);

  acknowledge(t, b);  // b is complete, but a is not: nothing may be confirmed
  CHECK(t.confirmable() == lsn{});
  acknowledge(t, c, 2);
  CHECK(t.confirmable() == lsn{});
  acknowledge(t, a);
  CHECK(t.confirmable() == lsn{});
  acknowledge(t, a);  // a completes: a, b and c all become confirmable at once
  CHECK(t.confirmable() == lsn{0x300});
  CHECK(t.pending_units() == 0);
}

TEST_CASE("delivery_tracker: confirmation stops at the first incomplete unit", "[unit][capture]") {
  delivery_tracker t;
  const auto a = unit_of(t, 1, 0x100);
  const auto b = unit_of(t, 2, 0x200);
  const auto c = unit_of(t, 1, 0x300);

  acknowledge(t, a);
  CHECK(t.confirmable() == lsn{0x100});
  acknowledge(t, c);
  acknowledge(t, b);
  CHECK(t.confirmable() == lsn{0x100});  // b has one record outstanding
  CHECK(t.pending_units() == 2);
  acknowledge(t, b);
  CHECK(t.confirmable() == lsn{0x300});
}

TEST_CASE("delivery_tracker: empty units carry keepalive positions", "[unit][capture]") {
  delivery_tracker t;
  SECTION("with nothing pending, a keepalive position is confirmable at once") {
    t.close_unit(lsn{0x50});
    CHECK(t.confirmable() == lsn{0x50});
    t.close_unit(lsn{0x60});
    CHECK(t.confirmable() == lsn{0x60});
    CHECK(t.pending_units() == 0);
  }
  SECTION("behind a pending transaction, it waits for it") {
    const auto a = unit_of(t, 1, 0x100);
    t.close_unit(lsn{0x180});  // keepalive: the server has sent everything up to 0x180
    CHECK(t.confirmable() == lsn{});
    CHECK(t.pending_units() == 2);
    acknowledge(t, a);
    CHECK(t.confirmable() == lsn{0x180});
    CHECK(t.pending_units() == 0);
  }
  SECTION("a unit whose records were never sent is an empty unit") {
    const auto token = t.current_token();
    t.close_unit(lsn{0x70});
    CHECK(t.confirmable() == lsn{0x70});
    CHECK(t.current_token() != token);  // a new unit opens for what comes next
  }
}

TEST_CASE("delivery_tracker: the confirmable position never moves back", "[unit][capture]") {
  delivery_tracker t;
  t.close_unit(lsn{0x300});
  CHECK(t.confirmable() == lsn{0x300});
  // A later unit with an older end (a keepalive racing a commit) must not rewind the slot.
  const auto a = unit_of(t, 1, 0x200);
  acknowledge(t, a);
  CHECK(t.confirmable() == lsn{0x300});
}

TEST_CASE("delivery_tracker: tokens of closed units", "[unit][capture]") {
  delivery_tracker t;
  const auto a = t.current_token();
  t.sent(a, 1);
  t.close_unit(lsn{0x100});
  const auto b = t.current_token();
  CHECK(b != a);  // records after the close belong to a new unit
  t.sent(b, 1);
  // Acknowledgements for a unit that is already closed still count towards it.
  acknowledge(t, a);
  CHECK(t.confirmable() == lsn{0x100});
  // ...and for the still-open unit they count, without confirming anything.
  acknowledge(t, b);
  CHECK(t.confirmable() == lsn{0x100});
  CHECK(t.pending_records() == 0);
  t.close_unit(lsn{0x200});
  CHECK(t.confirmable() == lsn{0x200});

  // Tokens keep growing; they are never reused for a later unit.
  std::vector<std::uint64_t> tokens{a, b};
  for (int i = 0; i < 5; ++i) tokens.push_back(unit_of(t, 0, 0x300 + static_cast<unsigned>(i)));
  for (std::size_t i = 1; i < tokens.size(); ++i) CHECK(tokens[i] > tokens[i - 1]);
}

TEST_CASE("delivery_tracker: a failed record blocks confirmation forever", "[unit][capture]") {
  delivery_tracker t;
  const auto a = unit_of(t, 1, 0x100);
  const auto b = unit_of(t, 2, 0x200);
  const auto c = unit_of(t, 1, 0x300);
  acknowledge(t, a);
  CHECK(t.confirmable() == lsn{0x100});

  t.failed(b, "Local: Message timed out");
  REQUIRE(t.failure().has_value());
  CHECK(*t.failure() == "Local: Message timed out");

  // Everything else is acknowledged, later keepalives arrive: the slot stays before b.
  acknowledge(t, b);
  acknowledge(t, c);
  t.close_unit(lsn{0x400});
  CHECK(t.confirmable() == lsn{0x100});

  // The first error is the one reported.
  t.failed(c, "Broker: Topic authorization failed");
  CHECK(*t.failure() == "Local: Message timed out");
  CHECK(t.confirmable() == lsn{0x100});
  CHECK(t.pending_units() == 3);
}

TEST_CASE("delivery_tracker: a failure in the open unit blocks it too", "[unit][capture]") {
  delivery_tracker t;
  const auto token = t.current_token();
  t.sent(token, 2);
  acknowledge(t, token);
  t.failed(token, "Broker: Message size too large");
  t.close_unit(lsn{0x100});
  CHECK(t.confirmable() == lsn{});
  CHECK(t.failure().has_value());
}

TEST_CASE("delivery_tracker: many interleaved units confirm in order", "[unit][capture]") {
  // 50 units of 1..3 records each, acknowledged in reverse order of sending: nothing is
  // confirmable until the very first unit completes, then everything is.
  delivery_tracker t;
  std::vector<std::uint64_t> tokens;
  std::vector<int> copies;
  for (int i = 0; i < 50; ++i) {
    copies.push_back(1 + i % 3);
    tokens.push_back(unit_of(t, copies.back(), 0x1000 + 0x10 * static_cast<unsigned>(i)));
  }
  for (std::size_t i = tokens.size(); i-- > 1;) {
    acknowledge(t, tokens[i], copies[i]);
    CHECK(t.confirmable() == lsn{});
  }
  acknowledge(t, tokens[0], copies[0] - 1);
  CHECK(t.confirmable() == lsn{});
  acknowledge(t, tokens[0]);
  CHECK(t.confirmable() == lsn{0x1000 + 0x10 * 49});
  CHECK(t.pending_units() == 0);
  CHECK(t.pending_records() == 0);
}
