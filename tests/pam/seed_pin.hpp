// A PIN set and armed in lwauthd's state database before lwauthd starts, as setting a
// PIN after a full login leaves it (an Argon2id hash at the tests' small costs).
#pragma once

#include <ctime>
#include <filesystem>
#include <string>

#include "harness.hpp"
#include "lwauth/secret.hpp"
#include "quick/pin_hash.hpp"
#include "store/contact_cipher.hpp"
#include "store/sqlite_store.hpp"

namespace lwauth::test {

/// Opens (or makes) the state database in `state_dir` as lwauthd will, and gives `user`
/// a full login now and the PIN `pin`.
inline void seed_armed_pin(const std::filesystem::path& state_dir, const std::string& user,
                           const std::string& pin) {
    std::filesystem::create_directories(state_dir);
    std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all);
    OpenSslRandom random;
    SqliteStore store((state_dir / "lwauth.db").string(),
                      ContactCipher(SecretString(std::string(32, 'c')), random));
    keep_note("answers", pin);  // the PIN the test types, for tests/leak_audit.py
    store.record_full_login(user, static_cast<int64_t>(std::time(nullptr)));
    store.set_pin(user, quick::hash_pin_blocking(pin, policy::Argon2Params{8192, 1, 1},
                                                 std::string(16, 's')));
}

}  // namespace lwauth::test
