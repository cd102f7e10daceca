// Percent-encoding for what lwauthd puts in URLs and in form bodies.
#pragma once

#include <string>
#include <string_view>

namespace lwauth::http {

/// `value` with every byte but the unreserved characters (RFC 3986 section 2.3: ALPHA,
/// DIGIT, "-", ".", "_", "~") percent-encoded as %XX in upper case (section 2.1), by
/// libcurl's curl_easy_escape. Fit for a path segment, a query and an
/// application/x-www-form-urlencoded body (a space is "%20", never "+").
[[nodiscard]] std::string percent_encode(std::string_view value);

}  // namespace lwauth::http
