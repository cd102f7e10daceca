#include "line/links.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <utility>

#include "lwauth/i18n.hpp"
#include "lwauth/text.hpp"

namespace lwauth::line {
namespace {

bool is_base64url(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

std::string digest(std::string_view token) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

}  // namespace

Links::Links(const Clock& clock, RandomSource& random, size_t capacity)
    : clock_(clock), random_(random), capacity_(capacity) {}

Result<std::string> Links::add(Link link, int64_t lifetime_seconds) {
    prune();
    if (links_.size() >= capacity_) {
        return Error(Errc::RateLimited, N_("too many LINE links are open; try again later"));
    }
    std::array<uint8_t, kTokenBytes> bytes{};
    random_.fill(bytes.data(), bytes.size());
    std::string token =
        base64url_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    secure_wipe(bytes.data(), bytes.size());
    link.expires_at = clock_.now() + lifetime_seconds;
    if (!links_.emplace(digest(token), std::move(link)).second) {
        // Two equal 128-bit draws: the random source is broken.
        return Error(Errc::Internal, "the random source repeated a LINE link token");
    }
    return token;
}

Result<Link> Links::take(std::string_view token) {
    if (token.size() != kTokenLength || !std::all_of(token.begin(), token.end(), is_base64url)) {
        return Error(Errc::NotFound, "no such LINE link");
    }
    auto it = links_.find(digest(token));
    if (it == links_.end()) {
        return Error(Errc::NotFound, "no such LINE link");
    }
    Link link = std::move(it->second);
    links_.erase(it);
    if (clock_.now() >= link.expires_at) {
        return Error(Errc::Expired, "the LINE link has expired");
    }
    return link;
}

size_t Links::remove_owner(std::string_view owner) {
    return std::erase_if(links_, [&](const auto& entry) { return entry.second.owner == owner; });
}

size_t Links::prune() {
    int64_t now = clock_.now();
    return std::erase_if(links_, [&](const auto& entry) { return now >= entry.second.expires_at; });
}

}  // namespace lwauth::line
