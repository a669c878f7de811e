// pgoutput decoder. Message layouts follow the PostgreSQL 15 documentation, chapter
// "Logical Replication Message Formats" (protocol version 1). All integers are big-endian.
#include "sluice/capture/pgoutput.hpp"

#include <cstring>

namespace sluice::capture::pgoutput {
namespace {

/// Bounds-checked big-endian reader over one message. The first failed read sets `failed_`
/// and every later read returns zero values, so decoders check once at the end.
class reader {
 public:
  explicit reader(std::string_view bytes) : bytes_(bytes) {}

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(big_endian(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(big_endian(4)); }
  std::uint64_t u64() { return big_endian(8); }
  std::int16_t i16() { return static_cast<std::int16_t>(u16()); }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }

  /// A NUL-terminated string.
  std::string_view cstring() {
    if (failed_) return {};
    const auto end = bytes_.find('\0', pos_);
    if (end == std::string_view::npos) return fail("unterminated string"), std::string_view{};
    std::string_view s = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

  void fail(std::string why) {
    if (!failed_) error_ = std::move(why) + " at byte " + std::to_string(pos_);
    failed_ = true;
  }
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] bool at_end() const { return pos_ == bytes_.size(); }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool need(std::size_t n) {
    if (failed_) return false;
    if (bytes_.size() - pos_ < n) {
      fail("message truncated: needed " + std::to_string(n) + " more bytes");
      return false;
    }
    return true;
  }
  std::uint64_t big_endian(std::size_t n) {
    if (!need(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  std::string error_;
};

lsn read_lsn(reader& r) {
  return lsn{r.u64()};
}

tuple read_tuple(reader& r) {
  const std::int16_t ncols = r.i16();
  tuple t;
  if (ncols < 0) {
    r.fail("negative column count");
    return t;
  }
  t.reserve(static_cast<std::size_t>(ncols));
  for (int i = 0; i < ncols && !r.failed(); ++i) {
    const char kind = static_cast<char>(r.u8());
    switch (kind) {
      case 'n':
        t.push_back({tuple_field::kind::null, {}});
        break;
      case 'u':
        t.push_back({tuple_field::kind::unchanged_toast, {}});
        break;
      case 't':
      case 'b': {
        const std::int32_t len = r.i32();
        if (len < 0) {
          r.fail("negative value length");
          break;
        }
        t.push_back({static_cast<tuple_field::kind>(kind), r.bytes(static_cast<std::size_t>(len))});
        break;
      }
      default:
        if (!r.failed()) r.fail(std::string("unknown tuple column kind '") + kind + "'");
    }
  }
  return t;
}

any decode_relation(reader& r) {
  relation rel;
  rel.oid = r.u32();
  rel.schema = r.cstring();
  rel.name = r.cstring();
  rel.replica_identity = static_cast<char>(r.u8());
  const std::int16_t ncols = r.i16();
  if (ncols < 0) r.fail("negative column count");
  for (int i = 0; i < ncols && !r.failed(); ++i) {
    relation_column c;
    c.is_key = (r.u8() & 1) != 0;
    c.name = r.cstring();
    c.type_oid = r.u32();
    c.type_modifier = r.i32();
    rel.columns.push_back(c);
  }
  return rel;
}

any decode_update(reader& r) {
  update u;
  u.relation_oid = r.u32();
  char tag = static_cast<char>(r.u8());
  if (tag == 'K' || tag == 'O') {
    u.old_kind = tag;
    u.old_tuple = read_tuple(r);
    tag = static_cast<char>(r.u8());
  }
  if (tag != 'N' && !r.failed()) r.fail(std::string("update: expected 'N', got '") + tag + "'");
  u.new_tuple = read_tuple(r);
  return u;
}

}  // namespace

std::expected<any, decode_error> decode(std::string_view bytes) {
  reader r(bytes);
  const char tag = static_cast<char>(r.u8());
  any out;
  switch (tag) {
    case 'B':
      out = begin{read_lsn(r), r.i64(), r.u32()};
      break;
    case 'C': {
      commit c;
      c.flags = r.u8();
      c.commit_lsn = read_lsn(r);
      c.end_lsn = read_lsn(r);
      c.commit_time = r.i64();
      out = c;
      break;
    }
    case 'O': {
      origin o;
      o.origin_commit_lsn = read_lsn(r);
      o.name = r.cstring();
      out = o;
      break;
    }
    case 'R':
      out = decode_relation(r);
      break;
    case 'Y': {
      type t;
      t.oid = r.u32();
      t.schema = r.cstring();
      t.name = r.cstring();
      out = t;
      break;
    }
    case 'I': {
      insert ins;
      ins.relation_oid = r.u32();
      const char n = static_cast<char>(r.u8());
      if (n != 'N' && !r.failed()) r.fail(std::string("insert: expected 'N', got '") + n + "'");
      ins.new_tuple = read_tuple(r);
      out = std::move(ins);
      break;
    }
    case 'U':
      out = decode_update(r);
      break;
    case 'D': {
      remove d;
      d.relation_oid = r.u32();
      d.old_kind = static_cast<char>(r.u8());
      if (d.old_kind != 'K' && d.old_kind != 'O' && !r.failed()) {
        r.fail(std::string("delete: expected 'K' or 'O', got '") + d.old_kind + "'");
      }
      d.old_tuple = read_tuple(r);
      out = std::move(d);
      break;
    }
    case 'T': {
      truncate t;
      const std::int32_t nrels = r.i32();
      const std::uint8_t options = r.u8();
      t.cascade = (options & 1) != 0;
      t.restart_identity = (options & 2) != 0;
      if (nrels < 0) r.fail("negative relation count");
      for (int i = 0; i < nrels && !r.failed(); ++i) t.relation_oids.push_back(r.u32());
      out = std::move(t);
      break;
    }
    case 'M': {
      message m;
      m.transactional = (r.u8() & 1) != 0;
      m.message_lsn = read_lsn(r);
      m.prefix = r.cstring();
      const std::int32_t len = r.i32();
      if (len < 0) r.fail("negative message length");
      m.content = r.bytes(static_cast<std::size_t>(len < 0 ? 0 : len));
      out = m;
      break;
    }
    default:
      if (r.failed()) return std::unexpected(decode_error{"empty message"});
      return std::unexpected(
          decode_error{std::string("unknown pgoutput message type '") + tag + "'"});
  }
  if (r.failed()) return std::unexpected(decode_error{std::string(1, tag) + ": " + r.error()});
  if (!r.at_end()) {
    return std::unexpected(decode_error{std::string(1, tag) + ": trailing bytes after message"});
  }
  return out;
}

std::expected<any, decode_error> decode(std::span<const std::byte> bytes) {
  return decode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace sluice::capture::pgoutput
