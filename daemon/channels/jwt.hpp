// JSON Web Tokens signed with RS256 (RFC 7519, RFC 7515 compact serialization, RFC 7518
// §3.3), as a service account presents them to an OAuth token endpoint (RFC 7523).
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lwauth/secret.hpp"
#include "lwauth/text.hpp"

namespace lwauth {

struct EvpPkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

/// The RSA private key in a PEM text: PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE
/// KEY"), unencrypted. Throws Error(Internal) saying why, never quoting the text.
[[nodiscard]] EvpPkeyPtr load_rsa_private_key(const SecretString& pem);

/// header.payload.signature: the header is {"alg":"RS256","typ":"JWT"}, the signature
/// RSASSA-PKCS1-v1_5 with SHA-256 over the first two parts. Throws Error(Internal) when
/// OpenSSL cannot sign with the key.
[[nodiscard]] std::string sign_rs256_jwt(const nlohmann::json& claims, EVP_PKEY* key);

}  // namespace lwauth
