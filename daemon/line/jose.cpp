#include "line/jose.hpp"

#include <cjose/cjose.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lwauth/text.hpp"

namespace lwauth::line {
namespace {

struct JwsRelease {
    void operator()(cjose_jws_t* jws) const noexcept { cjose_jws_release(jws); }
};
using JwsPtr = std::unique_ptr<cjose_jws_t, JwsRelease>;

constexpr size_t kMaxKid = 128;

Error denied(const std::string& what) {
    return Error(Errc::AccessDenied,
                 "the ID token" + std::string(what.starts_with("'") ? "" : " ") + what);
}

Error bad_jwks(const std::string& what) {
    return Error(Errc::InvalidArgument, "the JWKS document " + what);
}

// Printable ASCII without space, 1 to `max` characters: what may be named in an error.
bool is_printable_name(std::string_view text, size_t max) {
    return !text.empty() && text.size() <= max &&
           std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

size_t signature_size(IdTokenAlg alg) {
    return alg == IdTokenAlg::Hs256 ? 32 : 64;
}

// The header's alg against the pinned one (RFC 8725 section 3.1: never the header's
// choice).
Result<void> check_alg(const nlohmann::json& header, IdTokenAlg pinned) {
    auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string()) {
        return denied("has no alg in its header");
    }
    const auto& name = alg->get_ref<const std::string&>();
    if (name == jws_alg_name(pinned)) {
        return {};
    }
    if (equals_ignoring_case(name, "none")) {
        return denied("is not signed (alg none)");
    }
    std::string shown = is_printable_name(name, 16) ? name : "another algorithm";
    return denied("is signed with " + shown + ", and [line] id_token_alg is " +
                  jws_alg_name(pinned));
}

Result<std::optional<std::string>> check_header(const nlohmann::json& header, IdTokenAlg pinned) {
    if (!header.is_object()) {
        return denied("'s header is not a JSON object");
    }
    if (Result<void> alg = check_alg(header, pinned); !alg.ok()) {
        return alg.error();
    }
    // RFC 7515 section 4.1.9: "JWT" says what it is; compared without case (section 4.1.9).
    auto typ = header.find("typ");
    if (typ != header.end() &&
        (!typ->is_string() || !equals_ignoring_case(typ->get_ref<const std::string&>(), "JWT"))) {
        return denied("'s header has a typ other than JWT");
    }
    if (header.contains("crit")) {
        return denied("'s header has critical extensions (crit), which lwauth does not know");
    }
    auto kid = header.find("kid");
    if (kid == header.end()) {
        return std::optional<std::string>();
    }
    if (!kid->is_string() || !is_printable_name(kid->get_ref<const std::string&>(), kMaxKid)) {
        return denied("'s header has a kid that is no key ID");
    }
    return std::optional<std::string>(kid->get<std::string>());
}

// The three parts of a compact JWS, each decoded to check it.
Result<std::array<std::string, 3>> split_compact(std::string_view compact) {
    std::array<std::string_view, 3> parts;
    size_t start = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        size_t dot = i + 1 < parts.size() ? compact.find('.', start) : compact.size();
        // An empty signature is left to the header's checks, which say "alg none".
        if (dot == std::string_view::npos || (dot == start && i + 1 < parts.size())) {
            return denied("is not a compact JWS (header.payload.signature)");
        }
        parts[i] = compact.substr(start, dot - start);
        start = dot + 1;
    }
    if (parts[2].find('.') != std::string_view::npos) {
        return denied("is not a compact JWS (header.payload.signature)");
    }
    static constexpr const char* kNames[] = {"header", "payload", "signature"};
    std::array<std::string, 3> decoded;
    for (size_t i = 0; i < parts.size(); ++i) {
        Result<std::string> bytes = base64url_decode(parts[i]);
        if (!bytes.ok()) {
            return denied(std::string("'s ") + kNames[i] + " is not base64url");
        }
        decoded[i] = std::move(bytes).value();
    }
    wipe_string(decoded[1]);
    return decoded;
}

}  // namespace

const char* jws_alg_name(IdTokenAlg alg) noexcept {
    return alg == IdTokenAlg::Hs256 ? "HS256" : "ES256";
}

void Jwk::Release::operator()(_cjose_jwk_int* key) const noexcept {
    cjose_jwk_release(key);
}

Result<Jwk> Jwk::hmac(std::string_view secret) {
    if (secret.empty()) {
        return Error(Errc::InvalidArgument, "an empty HS256 key");
    }
    cjose_err err{};
    cjose_jwk_t* key = cjose_jwk_create_oct_spec(reinterpret_cast<const uint8_t*>(secret.data()),
                                                 secret.size(), &err);
    if (key == nullptr) {
        return Error(Errc::Internal, std::string("libcjose cannot make an HS256 key: ") +
                                         cjose_err_message(err.code));
    }
    return Jwk(key, IdTokenAlg::Hs256);
}

namespace {

// One key of a JWKS, made into a libcjose JWK when it is a P-256 key for ES256
// signatures; nullptr for a key of another kind, which is left out.
Result<cjose_jwk_t*> es256_key(const nlohmann::json& key, const std::string& kid) {
    auto text = [&key](const char* name) -> std::optional<std::string> {
        auto it = key.find(name);
        return it != key.end() && it->is_string() ? std::optional(it->get<std::string>())
                                                  : std::nullopt;
    };
    if (text("kty") != "EC" || text("crv") != "P-256" || text("alg").value_or("ES256") != "ES256" ||
        text("use").value_or("sig") != "sig") {
        return nullptr;
    }
    for (const char* coordinate : {"x", "y"}) {
        std::optional<std::string> value = text(coordinate);
        Result<std::string> bytes =
            value ? base64url_decode(*value) : Result<std::string>(bad_jwks("key"));
        if (!bytes.ok() || bytes->size() != 32) {
            return bad_jwks("has a P-256 key (" + kid + ") whose " + coordinate +
                            " is not 32 bytes of base64url");
        }
    }
    std::string jwk = nlohmann::json{
        {"kty", "EC"},
        {"crv", "P-256"},
        {"x", *text("x")},
        {"y", *text("y")},
        {"kid", kid}}.dump();
    cjose_err err{};
    cjose_jwk_t* imported = cjose_jwk_import(jwk.data(), jwk.size(), &err);
    if (imported == nullptr) {
        return bad_jwks("has a P-256 key (" + kid +
                        ") libcjose refuses: " + cjose_err_message(err.code));
    }
    return imported;
}

}  // namespace

Result<Jwks> parse_jwks(std::string_view document) {
    if (document.size() > kMaxJwksSize) {
        return bad_jwks("is larger than " + std::to_string(kMaxJwksSize / 1024) + " KiB");
    }
    nlohmann::json doc = nlohmann::json::parse(document, nullptr, false);
    if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
        return bad_jwks("is not a JSON object with a keys array");
    }
    if (doc["keys"].size() > kMaxJwksKeys) {
        return bad_jwks("has more than " + std::to_string(kMaxJwksKeys) + " keys");
    }
    Jwks out;
    for (const auto& key : doc["keys"]) {
        if (!key.is_object() || key.contains("d")) {
            return bad_jwks("has a key that is not a public JWK");
        }
        auto kid = key.find("kid");
        if (kid == key.end() || !kid->is_string() ||
            !is_printable_name(kid->get_ref<const std::string&>(), kMaxKid)) {
            return bad_jwks("has a key without a usable kid");
        }
        Result<cjose_jwk_t*> imported = es256_key(key, kid->get<std::string>());
        if (!imported.ok()) {
            return imported.error();
        }
        if (*imported == nullptr) {
            continue;
        }
        Jwk jwk(*imported, IdTokenAlg::Es256);
        if (!out.keys_.emplace(kid->get<std::string>(), std::move(jwk)).second) {
            return bad_jwks("has two keys of one kid (" + kid->get<std::string>() + ")");
        }
    }
    if (out.keys_.empty()) {
        return bad_jwks("has no P-256 key for ES256");
    }
    return out;
}

const Jwk* Jwks::find(std::string_view kid) const {
    auto it = keys_.find(kid);
    return it == keys_.end() ? nullptr : &it->second;
}

Result<Jws> parse_jws(std::string_view compact, IdTokenAlg pinned) {
    if (compact.size() > kMaxJwsSize) {
        return denied("is larger than " + std::to_string(kMaxJwsSize / 1024) + " KiB");
    }
    Result<std::array<std::string, 3>> parts = split_compact(compact);
    if (!parts.ok()) {
        return parts.error();
    }
    nlohmann::json header = nlohmann::json::parse((*parts)[0], nullptr, false);
    Result<std::optional<std::string>> kid = check_header(header, pinned);
    if (!kid.ok()) {
        return kid.error();
    }
    if ((*parts)[2].size() != signature_size(pinned)) {
        return denied("'s signature is not " + std::to_string(signature_size(pinned)) +
                      " bytes long, as " + jws_alg_name(pinned) + " makes it");
    }
    return Jws{compact, pinned, std::move(kid).value()};
}

Result<SecretString> verify_jws(const Jws& jws, const Jwk& key) {
    if (key.alg() != jws.alg || key.get() == nullptr) {
        return denied(std::string("cannot be verified with a key for ") + jws_alg_name(key.alg()));
    }
    cjose_err err{};
    JwsPtr parsed(cjose_jws_import(jws.compact.data(), jws.compact.size(), &err));
    if (!parsed) {
        return denied(std::string("cannot be read by libcjose: ") + cjose_err_message(err.code));
    }
    // The header as libcjose read it must name the same algorithm: two JSON readers must
    // not disagree on which `alg` counts.
    const char* alg = cjose_header_get(cjose_jws_get_protected(parsed.get()), CJOSE_HDR_ALG, &err);
    if (alg == nullptr || std::strcmp(alg, jws_alg_name(jws.alg)) != 0) {
        return denied("'s header names its algorithm ambiguously");
    }
    if (!cjose_jws_verify(parsed.get(), key.get(), &err)) {
        return denied("'s signature does not verify");
    }
    uint8_t* payload = nullptr;
    size_t size = 0;
    if (!cjose_jws_get_plaintext(parsed.get(), &payload, &size, &err)) {
        return denied("has no payload libcjose can read");
    }
    return SecretString(std::string_view(reinterpret_cast<const char*>(payload), size));
}

}  // namespace lwauth::line
