#include "recovery.hpp"

#include <cctype>
#include <memory>

namespace lwauth::recovery {
namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

}  // namespace

std::vector<SecretString> draw_codes(RandomSource& random) {
    std::vector<SecretString> codes;
    for (int i = 0; i < kCodesPerSet; ++i) {
        uint8_t bytes[kCodeLength];
        random.fill(bytes, sizeof bytes);
        char text[kCodeLength + 2];  // two dashes
        size_t at = 0;
        for (size_t j = 0; j < kCodeLength; ++j) {
            if (j == 4 || j == 8) {
                text[at++] = '-';
            }
            text[at++] = kAlphabet[bytes[j] & 0x1f];  // 32 letters: 5 unbiased bits a byte
        }
        codes.emplace_back(std::string_view(text, at));
        secure_wipe(bytes, sizeof bytes);
        secure_wipe(text, sizeof text);
    }
    return codes;
}

std::optional<SecretString> normalized(std::string_view answer) {
    char text[kCodeLength];
    size_t at = 0;
    for (char c : answer) {
        if (c == '-' || c == ' ') {
            continue;
        }
        char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bool known = (lower >= 'a' && lower <= 'z') || (lower >= '2' && lower <= '7');
        if (!known || at == kCodeLength) {
            secure_wipe(text, sizeof text);
            return std::nullopt;
        }
        text[at++] = lower;
    }
    if (at != kCodeLength) {
        secure_wipe(text, sizeof text);
        return std::nullopt;
    }
    SecretString code(std::string_view(text, at));
    secure_wipe(text, sizeof text);
    return code;
}

std::string hash(const Hasher& hasher, const std::string& user, const SecretString& code) {
    return hasher.keyed_hex("recovery:" + user, code.view());
}

namespace {

// Tries the hashes from `next` on, one store step each, until one is a code of the user.
void use_first_of(AsyncStore& store, const std::string& user,
                  std::shared_ptr<const std::vector<std::string>> candidates, size_t next,
                  Done<int> done) {
    const std::string& hash = (*candidates)[next];
    store.use_recovery_code(
        user, hash, then<int>(done, [&store, user, candidates, next](int left, Done<int>& out) {
            if (left < 0 && next + 1 < candidates->size()) {
                use_first_of(store, user, candidates, next + 1, std::move(out));
                return;
            }
            out(left);
        }));
}

}  // namespace

void use_code(AsyncStore& store, const Hasher& hasher, const std::string& user,
              const SecretString& code, Done<int> done) {
    auto candidates = std::make_shared<std::vector<std::string>>();
    candidates->push_back(hash(hasher, user, code));
    for (auto& old : hasher.old_keyed_hex("recovery:" + user, code.view())) {
        candidates->push_back(std::move(old));
    }
    use_first_of(store, user, std::move(candidates), 0, std::move(done));
}

std::vector<std::string> hashes(const Hasher& hasher, const std::string& user,
                                const std::vector<SecretString>& codes) {
    std::vector<std::string> out;
    for (const auto& code : codes) {
        out.push_back(hash(hasher, user, normalized(code.view()).value()));
    }
    return out;
}

}  // namespace lwauth::recovery
