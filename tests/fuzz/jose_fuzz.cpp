// LINE's ID tokens: a JWKS document and a compact JWS from the fuzzer, read by
// parse_jwks, then verified by verify_id_token with the pinned algorithm (HS256 with a
// channel secret, ES256 with the document's keys) as the LINE callback does. The input:
// one byte ('E': ES256, anything else: HS256), the JWKS document, a newline and the token
// (everything after the last newline).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "line/id_token.hpp"
#include "line/jose.hpp"
#include "lwauth/secret.hpp"

namespace line = lwauth::line;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) {
        return 0;
    }
    const bool es256 = data[0] == 'E';
    const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto cut = rest.rfind('\n');
    const std::string jwks_text = cut == std::string::npos ? "" : rest.substr(0, cut);
    const std::string token = cut == std::string::npos ? rest : rest.substr(cut + 1);

    auto jwks = line::parse_jwks(jwks_text);
    const lwauth::SecretString secret("0123456789abcdef0123456789abcdef");
    line::IdTokenExpected expected;
    expected.alg = es256 ? line::IdTokenAlg::Es256 : line::IdTokenAlg::Hs256;
    expected.issuer = "https://access.line.me";
    expected.channel_id = "1234567890";
    expected.nonce = "n-0S6_WzA2Mj";
    expected.max_age = std::chrono::seconds(600);
    expected.now = 1700000000;
    line::IdTokenKeys keys{&secret, jwks ? &*jwks : nullptr};
    (void)line::verify_id_token(lwauth::SecretString(token), expected, keys);

    auto jws = line::parse_jws(token, expected.alg);
    if (jws && jwks && jws->kid) {
        if (const line::Jwk* key = jwks->find(*jws->kid)) {
            (void)line::verify_jws(*jws, *key);
        }
    }
    return 0;
}
