#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/schemas/lsn.hpp"

namespace sluice::capture {

using schemas::lsn;

/// pgoutput messages, as in the PostgreSQL 15 docs, "Logical Replication Message Formats".
/// String fields are views into the decoded buffer: a message lives as long as its bytes.
namespace pgoutput {

struct begin {
  lsn final_lsn;             // the transaction's commit LSN
  std::int64_t commit_time;  // microseconds since 2000-01-01 (Postgres epoch)
  std::uint32_t xid;
};

struct commit {
  std::uint8_t flags;
  lsn commit_lsn;
  lsn end_lsn;  // end of the commit record: where a restart resumes
  std::int64_t commit_time;
};

struct origin {
  lsn origin_commit_lsn;
  std::string_view name;
};

struct relation_column {
  bool is_key;
  std::string_view name;
  std::uint32_t type_oid;
  std::int32_t type_modifier;
};

struct relation {
  std::uint32_t oid;
  std::string_view schema;
  std::string_view name;
  char replica_identity;  // d default, n nothing, f full, i index
  std::vector<relation_column> columns;
};

struct type {
  std::uint32_t oid;
  std::string_view schema;
  std::string_view name;
};

/// One column of a TupleData block.
struct tuple_field {
  enum class kind : char { null = 'n', unchanged_toast = 'u', text = 't', binary = 'b' };
  kind k;
  std::string_view data;  // for text and binary
};
using tuple = std::vector<tuple_field>;

struct insert {
  std::uint32_t relation_oid;
  tuple new_tuple;
};

struct update {
  std::uint32_t relation_oid;
  /// 'K' (old key columns, replica identity index) or 'O' (whole old row, REPLICA IDENTITY
  /// FULL); absent when the key did not change under REPLICA IDENTITY DEFAULT.
  std::optional<char> old_kind;
  tuple old_tuple;
  tuple new_tuple;
};

struct remove {
  std::uint32_t relation_oid;
  char old_kind;  // 'K' or 'O'
  tuple old_tuple;
};

struct truncate {
  bool cascade;
  bool restart_identity;
  std::vector<std::uint32_t> relation_oids;
};

struct message {
  bool transactional;
  lsn message_lsn;
  std::string_view prefix;
  std::string_view content;
};

using any =
    std::variant<begin, commit, origin, relation, type, insert, update, remove, truncate, message>;

struct decode_error {
  std::string message;
};

/// Decodes one pgoutput message (protocol version 1, text tuples). Pure: no state, no I/O.
/// Malformed input (truncated, unknown tag, bad tuple kind) yields a decode_error, never UB.
[[nodiscard]] std::expected<any, decode_error> decode(std::span<const std::byte> bytes);
[[nodiscard]] std::expected<any, decode_error> decode(std::string_view bytes);

}  // namespace pgoutput
}  // namespace sluice::capture
