#pragma once
#include <string>
#include <string_view>

namespace sluice::config {

/// Masks the passwords in a connection string so it can be printed:
///   postgresql://user:pass@host/db        -> postgresql://user:***@host/db
///   postgresql://host/db?password=pass    -> postgresql://host/db?password=***
///   host=h user=u password='p w' dbname=d -> host=h user=u password=*** dbname=d
///   redis://:pass@host, redis://user:pass@host, redis://pass@host -> the password as ***
/// Errs towards masking too much: the user part of a URI ends at its last '@'.
/// Text that holds no password comes back unchanged.
[[nodiscard]] std::string redact(std::string_view dsn_or_url);

}  // namespace sluice::config
