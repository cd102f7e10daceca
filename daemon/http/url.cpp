#include "url.hpp"

#include <curl/curl.h>

#include <climits>
#include <memory>
#include <new>

#include "lwauth/error.hpp"

namespace lwauth::http {

std::string percent_encode(std::string_view value) {
    // A length of 0 would make libcurl call strlen() on a view that need not end in NUL.
    if (value.empty()) {
        return {};
    }
    if (value.size() > static_cast<size_t>(INT_MAX)) {
        throw Error(Errc::InvalidArgument, "too much data to percent-encode");
    }
    // Since libcurl 7.82 the handle may be null; the escape needs none.
    std::unique_ptr<char, decltype(&curl_free)> escaped(
        curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size())), &curl_free);
    if (!escaped) {
        throw std::bad_alloc();
    }
    return escaped.get();
}

}  // namespace lwauth::http
