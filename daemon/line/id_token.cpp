#include "line/id_token.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "line/json_wipe.hpp"

namespace lwauth::line {
namespace {

Error denied(const std::string& what) {
    return Error(Errc::AccessDenied, "the ID token " + what);
}

// The key for the pinned algorithm: the channel secret as an oct JWK, or the JWKS's key
// named by the header's kid.
Result<Jwk> hmac_key(const IdTokenKeys& keys) {
    if (keys.channel_secret == nullptr || keys.channel_secret->empty()) {
        return Error(Errc::InvalidArgument, "HS256 ID tokens need the channel secret");
    }
    return Jwk::hmac(keys.channel_secret->view());
}

Result<const Jwk*> es256_key(const Jws& jws, const IdTokenKeys& keys) {
    if (keys.jwks == nullptr) {
        return Error(Errc::InvalidArgument, "ES256 ID tokens need LINE's JWKS");
    }
    if (!jws.kid) {
        return denied("has no kid, which ES256 needs to name its key");
    }
    const Jwk* key = keys.jwks->find(*jws.kid);
    if (key == nullptr) {
        return Error(Errc::NotFound, "the ID token's kid (" + *jws.kid + ") is not in the JWKS");
    }
    return key;
}

Result<SecretString> verified_payload(const SecretString& token, const IdTokenExpected& expected,
                                      const IdTokenKeys& keys) {
    Result<Jws> jws = parse_jws(token.view(), expected.alg);
    if (!jws.ok()) {
        return jws.error();
    }
    if (expected.alg == IdTokenAlg::Hs256) {
        Result<Jwk> key = hmac_key(keys);
        return key.ok() ? verify_jws(*jws, *key) : Result<SecretString>(key.error());
    }
    Result<const Jwk*> key = es256_key(*jws, keys);
    return key.ok() ? verify_jws(*jws, **key) : Result<SecretString>(key.error());
}

const std::string* string_claim(const nlohmann::json& claims, const char* name) {
    auto it = claims.find(name);
    return it != claims.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::optional<int64_t> time_claim(const nlohmann::json& claims, const char* name) {
    auto it = claims.find(name);
    if (it == claims.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX} / 2) {
        return std::nullopt;
    }
    int64_t value = it->get<int64_t>();
    return value >= 0 && value <= INT64_MAX / 2 ? std::optional(value) : std::nullopt;
}

Result<void> check_parties(const nlohmann::json& claims, const IdTokenExpected& expected) {
    const std::string* iss = string_claim(claims, "iss");
    if (iss == nullptr || *iss != expected.issuer) {
        return denied("is not from the issuer [line] issuer names (iss)");
    }
    // LINE documents aud as the channel ID, a string; an array is not taken.
    const std::string* aud = string_claim(claims, "aud");
    if (aud == nullptr || *aud != expected.channel_id) {
        return denied("is not for this channel (aud)");
    }
    const std::string* nonce = string_claim(claims, "nonce");
    if (nonce == nullptr) {
        return denied("has no nonce");
    }
    if (expected.nonce.empty() || !secret_equal(*nonce, expected.nonce)) {
        return denied("is not for this login (nonce)");
    }
    const std::string* sub = string_claim(claims, "sub");
    bool sub_fits =
        sub != nullptr && !sub->empty() && sub->size() <= kMaxSubject &&
        std::all_of(sub->begin(), sub->end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!sub_fits) {
        return denied("has no usable sub");
    }
    return {};
}

Result<void> check_times(const nlohmann::json& claims, const IdTokenExpected& expected) {
    int64_t skew = std::clamp<int64_t>(expected.skew.count(), 0, kMaxClockSkew.count());
    int64_t now = expected.now;
    std::optional<int64_t> exp = time_claim(claims, "exp");
    std::optional<int64_t> iat = time_claim(claims, "iat");
    if (!exp || !iat) {
        return denied("has no exp or iat (integer seconds)");
    }
    if (now >= *exp + skew) {
        return denied("has expired (exp)");
    }
    if (*iat > now + skew) {
        return denied("is issued in the future (iat)");
    }
    std::optional<int64_t> auth_time = time_claim(claims, "auth_time");
    if (claims.contains("auth_time") && !auth_time) {
        return denied("has an auth_time that is no time");
    }
    if (auth_time && *auth_time > now + skew) {
        return denied("says the user authenticated in the future (auth_time)");
    }
    if (expected.max_age) {
        if (!auth_time) {
            return denied("has no auth_time, which max_age asks for");
        }
        if (*auth_time + expected.max_age->count() + skew < now) {
            return denied("says the user authenticated longer ago than max_age (auth_time)");
        }
    }
    return {};
}

}  // namespace

IdTokenExpected expected_for(const ClientConfig& client, const AuthRequest& request, int64_t now) {
    IdTokenExpected expected;
    expected.alg = client.id_token_alg;
    expected.issuer = client.issuer;
    expected.channel_id = client.channel_id;
    expected.nonce = request.nonce;
    expected.max_age = client.max_age;
    expected.now = now;
    return expected;
}

Result<IdToken> verify_id_token(const SecretString& token, const IdTokenExpected& expected,
                                const IdTokenKeys& keys) {
    Result<SecretString> payload = verified_payload(token, expected, keys);
    if (!payload.ok()) {
        return payload.error();
    }
    nlohmann::json claims = nlohmann::json::parse(payload->view(), nullptr, false);
    JsonWipe wipe(claims);
    if (!claims.is_object()) {
        return denied("payload is not a JSON object");
    }
    for (const Result<void>& check :
         {check_parties(claims, expected), check_times(claims, expected)}) {
        if (!check.ok()) {
            return check.error();
        }
    }
    return IdToken{SecretString(*string_claim(claims, "sub")), time_claim(claims, "auth_time")};
}

}  // namespace lwauth::line
