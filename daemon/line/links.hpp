// The short links of LINE Login: an unguessable token in a URL stands for one login (or
// one link attempt) and what that login needs back when the link is opened (the OAuth
// state, nonce and PKCE verifier). A link is taken once, expires with its deadline and
// goes when its login ends; the registry holds a bounded number of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "clock.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

/// What a link stands for.
struct Link {
    std::string owner;  // the login id, or the link attempt's id, that the link belongs to
    // What the owner wants back, by name ("state", "nonce", "code_verifier"); kept as
    // secrets because some are.
    std::map<std::string, SecretString> values;
    int64_t expires_at = 0;  // seconds since the epoch (Clock::now()); set by add()
};

class Links {
  public:
    /// 128 random bits: base64url, 22 characters.
    static constexpr size_t kTokenBytes = 16;
    static constexpr size_t kTokenLength = 22;

    /// `clock` and `random` must outlive the registry; at most `capacity` links live at once.
    Links(const Clock& clock, RandomSource& random, size_t capacity);

    /// Registers `link` for `lifetime_seconds` from now and returns its token (base64url
    /// of kTokenBytes random bytes). RateLimited when `capacity` links are live already.
    [[nodiscard]] Result<std::string> add(Link link, int64_t lifetime_seconds);

    /// Takes the link of `token`: it is forgotten, so a second take fails. NotFound for a
    /// token that is malformed, unknown, taken or removed; Expired for one past its
    /// deadline (which is forgotten too).
    [[nodiscard]] Result<Link> take(std::string_view token);

    /// Forgets every link of `owner` (its login ended); returns how many there were.
    size_t remove_owner(std::string_view owner);

    /// Forgets every link past its deadline; returns how many. add() does it too.
    size_t prune();

    [[nodiscard]] size_t size() const { return links_.size(); }

  private:
    const Clock& clock_;
    RandomSource& random_;
    size_t capacity_;
    // By SHA-256 of the token: a lookup's timing depends on the digest of what was sent,
    // which tells nothing about the tokens held; and the tokens themselves are not kept.
    std::map<std::string, Link> links_;
};

}  // namespace lwauth::line
