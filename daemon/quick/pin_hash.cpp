#include "quick/pin_hash.hpp"

#include <argon2.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "lwauth/text.hpp"

namespace lwauth::quick {

namespace {

Error malformed(const std::string& what) {
    return Error(Errc::InvalidArgument, "malformed PIN hash: " + what);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t at = text.find(separator); at != std::string_view::npos;
         at = text.find(separator, start)) {
        parts.push_back(text.substr(start, at - start));
        start = at + 1;
    }
    parts.push_back(text.substr(start));
    return parts;
}

// "NAME=N" with N a decimal from 1 to max, no sign and no leading zero.
std::optional<int> named_number(std::string_view text, std::string_view name, int max) {
    if (text.size() <= name.size() + 1 || text.substr(0, name.size()) != name ||
        text[name.size()] != '=') {
        return std::nullopt;
    }
    std::string_view digits = text.substr(name.size() + 1);
    if (digits.front() == '0' || digits.size() > 10 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    uint64_t value = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (value > static_cast<uint64_t>(max)) {
        return std::nullopt;
    }
    return static_cast<int>(value);
}

// PHC's base64: the standard alphabet (RFC 4648 section 4) without padding. Read through
// the strict base64url reader, the two alphabets differing in two characters only.
Result<std::string> phc_base64_decode(std::string_view text) {
    if (text.find_first_of("-_=") != std::string_view::npos) {
        return Error(Errc::InvalidArgument, "a character outside the base64 alphabet");
    }
    std::string url(text);
    std::replace(url.begin(), url.end(), '+', '-');
    std::replace(url.begin(), url.end(), '/', '_');
    return base64url_decode(url);
}

Result<Argon2Params> parse_costs(std::string_view text) {
    auto fields = split(text, ',');
    if (fields.size() != 3) {
        return malformed("expected the costs m=,t=,p=");
    }
    auto m = named_number(fields[0], "m", Argon2Params::kMaxMemoryKib);
    auto t = named_number(fields[1], "t", Argon2Params::kMaxTime);
    auto p = named_number(fields[2], "p", Argon2Params::kMaxParallelism);
    if (!m || !t || !p) {
        return malformed("costs out of range or not written as m=,t=,p=");
    }
    if (*m < 8 * *p) {
        return malformed("less memory than 8 KiB per lane");
    }
    return Argon2Params{*m, *t, *p};
}

Result<std::string> decode_part(std::string_view text, const char* name, size_t min,
                                size_t max) {
    auto bytes = phc_base64_decode(text);
    if (!bytes) {
        return malformed(std::string("its ") + name + " is not base64: " + bytes.error().what());
    }
    if (bytes->size() < min || bytes->size() > max) {
        return malformed(std::string("its ") + name + " is " + std::to_string(bytes->size()) +
                         " bytes, not " + std::to_string(min) + " to " + std::to_string(max));
    }
    return bytes;
}

void check_argon2(int status) {
    if (status != ARGON2_OK) {
        throw Error(Errc::Internal, std::string("Argon2id failed: ") + argon2_error_message(status));
    }
}

}  // namespace

Result<PhcHash> parse_phc(std::string_view phc) {
    auto parts = split(phc, '$');
    if (parts.size() != 6 || !parts[0].empty()) {
        return malformed("expected $argon2id$v=19$m=,t=,p=$SALT$HASH");
    }
    if (parts[1] != "argon2id") {
        return malformed("not an Argon2id hash");
    }
    if (parts[2] != "v=19") {
        return malformed("not Argon2 version 19 (0x13)");
    }
    auto params = parse_costs(parts[3]);
    if (!params) {
        return params.error();
    }
    auto salt = decode_part(parts[4], "salt", ARGON2_MIN_SALT_LENGTH, 64);
    if (!salt) {
        return salt.error();
    }
    auto hash = decode_part(parts[5], "hash", 16, 64);
    if (!hash) {
        return hash.error();
    }
    return PhcHash{*params, std::move(salt).value(), std::move(hash).value()};
}

bool needs_rehash(std::string_view phc, const Argon2Params& current) {
    auto parsed = parse_phc(phc);
    return !parsed || parsed->params != current || parsed->salt.size() != kPinSaltBytes ||
           parsed->hash.size() != kPinHashBytes;
}

std::string hash_pin_blocking(std::string_view pin, const Argon2Params& params,
                              std::string_view salt) {
    const auto t = static_cast<uint32_t>(params.time);
    const auto m = static_cast<uint32_t>(params.memory_kib);
    const auto p = static_cast<uint32_t>(params.parallelism);
    std::string encoded(argon2_encodedlen(t, m, p, static_cast<uint32_t>(salt.size()),
                                          kPinHashBytes, Argon2_id),
                        '\0');
    check_argon2(argon2id_hash_encoded(t, m, p, pin.data(), pin.size(), salt.data(), salt.size(),
                                       kPinHashBytes, encoded.data(), encoded.size()));
    encoded.resize(encoded.find('\0'));
    return encoded;
}

Result<bool> verify_pin_blocking(std::string_view pin, std::string_view phc) {
    auto stored = parse_phc(phc);
    if (!stored) {
        return stored.error();
    }
    const Argon2Params& params = stored->params;
    std::string computed(stored->hash.size(), '\0');
    check_argon2(argon2id_hash_raw(static_cast<uint32_t>(params.time),
                                   static_cast<uint32_t>(params.memory_kib),
                                   static_cast<uint32_t>(params.parallelism), pin.data(),
                                   pin.size(), stored->salt.data(), stored->salt.size(),
                                   computed.data(), computed.size()));
    bool match = CRYPTO_memcmp(computed.data(), stored->hash.data(), computed.size()) == 0;
    wipe_string(computed);
    return match;
}

// A job's work is copied into a std::function, which a SecretString cannot be: the job
// holds the only reference to it, and the pool drops the work on its worker once it has
// run, which wipes the PIN there.
Job PinHasher::hash_pin(SecretString pin, const Argon2Params& params, Done<std::string> done) {
    std::string salt(kPinSaltBytes, '\0');
    random_.fill(reinterpret_cast<uint8_t*>(salt.data()), salt.size());
    return pool_.submit(
        [pin = std::make_shared<SecretString>(std::move(pin)), params, salt = std::move(salt)] {
            return hash_pin_blocking(pin->view(), params, salt);
        },
        std::move(done));
}

Job PinHasher::verify_pin(SecretString pin, std::string phc, const Argon2Params& current,
                          Done<PinCheck> done) {
    return pool_.submit(
        [pin = std::make_shared<SecretString>(std::move(pin)), phc = std::move(phc), current] {
            bool match = verify_pin_blocking(pin->view(), phc).value();  // throws a malformed hash
            return PinCheck{match, match && needs_rehash(phc, current)};
        },
        std::move(done));
}

}  // namespace lwauth::quick
