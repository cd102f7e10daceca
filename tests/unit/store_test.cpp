#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "clock.hpp"
#include "fakes.hpp"
#include "lwauth/error.hpp"
#include "lwauth/result.hpp"
#include "store/async_store.hpp"
#include "store/contact_cipher.hpp"

namespace lwauth {
namespace {

using test::error_code_of;
using test::record_send;
namespace fs = std::filesystem;
using test::file_bytes;
using test::TempDir;

constexpr const char* kPhone = "+819012345678";
constexpr const char* kEmail = "taro@example.com";

SecretString key_of(char fill) {
    return SecretString(std::string(32, fill));
}

mode_t mode_of(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

// Runs SQL on the database behind the store's back, as someone with the file would.
void tamper(const std::string& path, const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    SqlitePtr db(raw);
    char* err = nullptr;
    int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &err);
    std::string message = err ? err : "";
    sqlite3_free(err);
    ASSERT_EQ(rc, SQLITE_OK) << message;
}

class SqliteStoreTest : public ::testing::Test {
  protected:
    std::unique_ptr<SqliteStore> open_store(char key_fill = 'c') {
        return std::make_unique<SqliteStore>(path_, ContactCipher(key_of(key_fill), random_));
    }

    TempDir dir_;
    std::string path_ = dir_.file("lwauth.db");
    OpenSslRandom random_;
};

// ---- The file ---------------------------------------------------------------------------

TEST_F(SqliteStoreTest, CreatesTheDatabaseReadableOnlyByItsOwner) {
    auto store = open_store();
    store->set_two_step("taro", true);
    EXPECT_EQ(mode_of(path_), 0600u);
    for (const char* suffix : {"-wal", "-shm"}) {
        if (fs::exists(path_ + suffix)) {
            EXPECT_EQ(mode_of(path_ + suffix), 0600u) << suffix;
        }
    }
}

// A database file, or a -wal or -shm beside it, that others may read, that has another
// name, or that is not a regular file is refused, and left as it is.
TEST_F(SqliteStoreTest, RefusesADatabaseFileOthersMayReadOrWithAnotherName) {
    std::ofstream(path_).close();
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
    EXPECT_EQ(error_code_of([&] { open_store(); }), Errc::Internal);
    EXPECT_EQ(mode_of(path_), 0644u);
    ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
    fs::create_hard_link(path_, path_ + ".copy");
    EXPECT_EQ(error_code_of([&] { open_store(); }), Errc::Internal);
    fs::remove(path_ + ".copy");
    for (const char* suffix : {"-wal", "-shm"}) {
        ASSERT_EQ(::mkfifo((path_ + suffix).c_str(), 0600), 0);
        EXPECT_EQ(error_code_of([&] { open_store(); }), Errc::Internal) << suffix;
        fs::remove(path_ + suffix);
    }
    EXPECT_NO_THROW(open_store());
}

TEST_F(SqliteStoreTest, MigratesANewDatabaseToTheLatestSchema) {
    auto store = open_store();
    EXPECT_GE(SqliteStore::latest_schema_version(), 1);
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerVersion) {
    open_store().reset();
    tamper(path_,
           ("PRAGMA user_version = " + std::to_string(SqliteStore::latest_schema_version() + 1))
               .c_str());
    EXPECT_EQ(error_code_of([&] { open_store(); }), Errc::Internal);
}

// ---- Sealing and persistence ------------------------------------------------------------

TEST_F(SqliteStoreTest, TheDatabaseFilesNeverHoldAContactInTheClear) {
    {
        auto store = open_store();
        store->save_contact("taro", {"phone", kPhone});
        store->save_contact("taro", {"email", kEmail});
    }
    std::string all_bytes;
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
        all_bytes += file_bytes(entry.path());
    }
    // The user name is not sealed: finding it shows the scan sees what was written.
    EXPECT_NE(all_bytes.find("taro"), std::string::npos);
    EXPECT_EQ(all_bytes.find("9012345678"), std::string::npos);
    EXPECT_EQ(all_bytes.find("taro@example"), std::string::npos);
}

TEST_F(SqliteStoreTest, AddFailureCountsInTheDatabaseNotInTheConnection) {
    // Two connections interleaving see one counter: the increment happens in SQL.
    auto first = open_store();
    auto second = open_store();
    EXPECT_EQ(first->add_failure("taro").failures, 1);
    EXPECT_EQ(second->add_failure("taro").failures, 2);
    EXPECT_EQ(first->add_failure("taro").failures, 3);
}

TEST_F(SqliteStoreTest, AReleasedReservationNoLongerCountsNorSurvivesReopening) {
    {
        auto store = open_store();
        std::vector<SendCap> caps = {{"user:taro", 1}, {"host", 10}};
        SendReservation first = store->reserve_send(caps, 0, 100);
        ASSERT_TRUE(first.reserved());
        EXPECT_FALSE(store->reserve_send(caps, 0, 101).reserved());
        store->release_send(first);
        EXPECT_EQ(store->sends_since("user:taro", 0), 0);
        EXPECT_EQ(store->sends_since("host", 0), 0);
        EXPECT_TRUE(store->reserve_send(caps, 0, 102).reserved());
    }
    auto store = open_store();
    EXPECT_EQ(store->sends_since("user:taro", 0), 1);
    EXPECT_EQ(store->sends_since("user:taro", 102), 1) << "the kept one, not the released one";
}

TEST_F(SqliteStoreTest, AReservationIsInTheDatabaseBeforeItReturns) {
    // What is counted must survive lwauthd being killed the moment after: another
    // connection sees the row at once.
    auto store = open_store();
    record_send(*store, "taro", "d1", 100);
    record_send(*store, "taro", "d2", 101);
    EXPECT_EQ(open_store()->sends_since("user:taro", 0), 2);
}

TEST_F(SqliteStoreTest, CountsAfterReopeningAreTheDatabaseRows) {
    // The counts are kept in memory, loaded from the database when it opens: they must
    // agree with the rows, pruned ones gone.
    {
        auto store = open_store();
        for (int i = 0; i < 50; ++i) {
            record_send(*store, i % 2 == 0 ? "taro" : "jiro", "dest-" + std::to_string(i % 5),
                        1000 + i);
        }
        store->prune_sends(1010);
    }
    auto store = open_store();
    EXPECT_EQ(store->sends_since("host", 0), 40);
    EXPECT_EQ(store->sends_since("host", 1040), 10);
    EXPECT_EQ(store->sends_since("user:taro", 0), 20);
    EXPECT_EQ(store->sends_since("destination:dest-0", 0), 8);
    EXPECT_EQ(store->sends_since("destination:dest-0", 1045), 1);
}

TEST_F(SqliteStoreTest, ReopeningKeepsEverything) {
    {
        auto store = open_store();
        store->save_contact("taro", {"phone", kPhone});
        store->set_two_step("taro", true);
        (void)store->add_failure("taro");
        record_send(*store, "taro", "dest-a", 100);
    }
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    UserState state = store->load_user("taro");
    EXPECT_TRUE(state.two_step);
    EXPECT_EQ(state.failures, 1);
    ASSERT_NE(state.contact("phone"), nullptr);
    EXPECT_EQ(state.contact("phone")->value, kPhone);
    EXPECT_EQ(store->sends_since("host", 0), 1);
}

TEST_F(SqliteStoreTest, AnotherContactsKeyCannotReadTheContacts) {
    open_store('c')->save_contact("taro", {"phone", kPhone});
    auto store = open_store('X');
    EXPECT_EQ(error_code_of([&] { (void)store->load_user("taro"); }), Errc::Internal);
    // What is not sealed stays readable, so an administrator can still list accounts.
    EXPECT_EQ(store->list_users(), std::vector<std::string>{"taro"});
}

TEST_F(SqliteStoreTest, AContactMovedToAnotherUsersRowIsRejected) {
    open_store()->save_contact("taro", {"phone", kPhone});
    tamper(path_,
           "INSERT INTO users (name) VALUES ('mallory');"
           "UPDATE contacts SET user = 'mallory' WHERE user = 'taro';");
    auto store = open_store();
    EXPECT_EQ(error_code_of([&] { (void)store->load_user("mallory"); }), Errc::Internal);
}

TEST_F(SqliteStoreTest, AnAlteredContactIsRejected) {
    open_store()->save_contact("taro", {"phone", kPhone});
    // Change the last byte (part of the GCM tag) to another value, whatever it was.
    tamper(path_,
           "UPDATE contacts SET sealed_value = substr(sealed_value, 1, length(sealed_value) - 1) "
           "|| CASE WHEN substr(sealed_value, -1) = X'00' THEN X'01' ELSE X'00' END "
           "WHERE user = 'taro';");
    auto store = open_store();
    EXPECT_EQ(error_code_of([&] { (void)store->load_user("taro"); }), Errc::Internal);
}

TEST_F(SqliteStoreTest, TheProfileIsSealedAndApartFromLoginContacts) {
    {
        auto store = open_store();
        store->set_profile_contact("taro", {"phone", kPhone, "admin"});
        UserState state = store->load_user("taro");
        ASSERT_NE(state.profile_contact("phone"), nullptr);
        EXPECT_EQ(state.profile_contact("phone")->value, kPhone);
        EXPECT_TRUE(state.contacts.empty());
        store->remove_profile_contact("taro", "phone");
        EXPECT_TRUE(store->load_user("taro").profile.empty());
        store->set_profile_contact("taro", {"email", kEmail, "admin"});
    }
    for (const char* suffix : {"", "-wal"}) {
        std::string bytes = file_bytes(path_ + suffix);
        EXPECT_EQ(bytes.find(kEmail), std::string::npos) << suffix;
    }
    // A profile value copied into the login contacts does not open there.
    tamper(path_,
           "INSERT INTO contacts (user, kind, sealed_value, verified_at) "
           "SELECT user, kind, sealed_value, 0 FROM profile_contacts;");
    auto store = open_store();
    EXPECT_EQ(error_code_of([&] { (void)store->load_user("taro"); }), Errc::Internal);
}

TEST_F(SqliteStoreTest, TheEnrolmentGraceSurvivesReopening) {
    EXPECT_EQ(open_store()->start_enroll_grace("jiro", 1000), 1000);
    auto store = open_store();
    EXPECT_EQ(store->load_user("jiro").enroll_grace_started, 1000);
    EXPECT_EQ(store->start_enroll_grace("jiro", 2000), 1000);
}

TEST_F(SqliteStoreTest, RememberedHostsSurviveReopening) {
    {
        auto store = open_store();
        store->remember_host("taro", {"sshd", "192.0.2.7", 300, 1300});
        store->remember_host("taro", {"login", "local:tty1", 200, 1200});
    }
    EXPECT_EQ(open_store()->remembered_hosts("taro"),
              (std::vector<RememberedHost>{{"login", "local:tty1", 200, 1200},
                                           {"sshd", "192.0.2.7", 300, 1300}}));
}

// What schema 6 added, taken away again: a database of schema 5.
const std::string kBackToSchemaFive =
    "DROP TABLE recovery_codes; ALTER TABLE users DROP COLUMN totp_sealed;"
    "ALTER TABLE users DROP COLUMN totp_last_step;"
    "ALTER TABLE users DROP COLUMN totp_pending_sealed;"
    "ALTER TABLE users DROP COLUMN totp_pending_until;";

// What schema 5 added too: a database of schema 4.
const std::string kBackToSchemaFour =
    kBackToSchemaFive +
    "ALTER TABLE users DROP COLUMN pin_failures; ALTER TABLE users DROP COLUMN full_login_at;"
    "ALTER TABLE users DROP COLUMN quick_armed_at;"
    "ALTER TABLE users DROP COLUMN fingerprint_failures;"
    "ALTER TABLE users DROP COLUMN fingerprint_paused_until;"
    "ALTER TABLE users DROP COLUMN fingerprint_disabled;";

const std::string kBackToSchemaThree =
    kBackToSchemaFour +
    "DROP TABLE remembered_hosts; ALTER TABLE users DROP COLUMN enroll_grace_started;"
    "ALTER TABLE users DROP COLUMN enrolled;";

TEST_F(SqliteStoreTest, MigratesASchemaSixDatabaseMarkingUsersWithAnAppOrCodesEnrolled) {
    {
        auto store = open_store();
        store->set_totp("taro", "0123456789abcdefghij", 7);
        store->set_recovery_codes("jiro", {"aa", "bb"});
        store->set_pin_hash("saburo", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    }
    // Schema 6 marked only users with a login contact.
    tamper(path_, "UPDATE users SET enrolled = 0; PRAGMA user_version = 6;");
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    EXPECT_TRUE(store->load_user("taro").enrolled) << "an app";
    EXPECT_TRUE(store->load_user("jiro").enrolled) << "recovery codes";
    EXPECT_FALSE(store->load_user("saburo").enrolled) << "a PIN is no second factor";
    EXPECT_EQ(store->load_user("taro").totp_last_step, 7);
}

TEST_F(SqliteStoreTest, MigratesASchemaFiveDatabaseWithNoSecondFactorsYet) {
    open_store()->set_pin_hash("taro", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    tamper(path_, kBackToSchemaFive + "PRAGMA user_version = 5;");
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    UserState state = store->load_user("taro");
    EXPECT_TRUE(state.pin_set);
    EXPECT_FALSE(state.totp_set());
    EXPECT_EQ(state.totp_last_step, -1);
    EXPECT_EQ(state.recovery_codes, 0);
}

TEST_F(SqliteStoreTest, SealsTheAuthenticatorSecretBoundToItsUserAndUse) {
    const std::string secret = "0123456789abcdefghij";
    {
        auto store = open_store();
        store->set_totp_pending("taro", secret, 1000);
        EXPECT_EQ(store->load_user("taro").totp_pending.view(), secret);
        store->set_totp("taro", secret, 77);
        UserState state = store->load_user("taro");
        EXPECT_EQ(state.totp_secret.view(), secret);
        EXPECT_EQ(state.totp_last_step, 77);
        EXPECT_TRUE(state.totp_pending.empty()) << "activating drops the pending secret";
        store->set_totp("jiro", "another secret 12345", 1);
    }
    for (const char* suffix : {"", "-wal"}) {
        EXPECT_EQ(file_bytes(path_ + suffix).find(secret), std::string::npos) << suffix;
    }
    // Another user's sealed secret moved into taro's row does not open there.
    tamper(path_,
           "UPDATE users SET totp_sealed = (SELECT totp_sealed FROM users WHERE name = 'jiro') "
           "WHERE name = 'taro';");
    auto store = open_store();
    EXPECT_EQ(error_code_of([&] { (void)store->load_user("taro"); }), Errc::Internal);
}

TEST_F(SqliteStoreTest, MigratesASchemaFourDatabaseKeepingItsPin) {
    open_store()->set_pin_hash("taro", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    tamper(path_, kBackToSchemaFour + "PRAGMA user_version = 4;");
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    UserState state = store->load_user("taro");
    EXPECT_TRUE(state.pin_set);
    EXPECT_EQ(state.pin_failures, 0);
    EXPECT_EQ(state.quick_armed_at, 0) << "not armed until a full login";
    EXPECT_FALSE(state.fingerprint.disabled);
}

TEST_F(SqliteStoreTest, MigratesASchemaThreeDatabaseKeepingItsUsers) {
    open_store()->save_contact("taro", {"phone", kPhone});
    open_store()->set_two_step("jiro", true);
    tamper(path_, kBackToSchemaThree + "PRAGMA user_version = 3;");
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    UserState state = store->load_user("taro");
    ASSERT_NE(state.contact("phone"), nullptr);
    EXPECT_EQ(state.enroll_grace_started, 0);
    EXPECT_TRUE(state.enrolled) << "a user with a contact has enrolled";
    EXPECT_FALSE(store->load_user("jiro").enrolled);
    EXPECT_TRUE(store->remembered_hosts("taro").empty());
}

TEST_F(SqliteStoreTest, MigratesASchemaOneDatabaseKeepingItsContacts) {
    open_store()->save_contact("taro", {"phone", kPhone});
    // Back to what schema 1 was, as a database written by the first release.
    tamper(
        path_,
        kBackToSchemaThree +
            "DROP TABLE profile_contacts; ALTER TABLE contacts DROP COLUMN source;"
            "ALTER TABLE users DROP COLUMN line_link; ALTER TABLE users DROP COLUMN pin_hash;"
            "ALTER TABLE users DROP COLUMN failures_in_a_row;"
            "ALTER TABLE users DROP COLUMN passwordless_failures;"
            "DROP TABLE send_log; CREATE TABLE sends (id INTEGER PRIMARY KEY, user TEXT NOT NULL,"
            " destination TEXT NOT NULL, at INTEGER NOT NULL);"
            "PRAGMA user_version = 1;");
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    UserState state = store->load_user("taro");
    ASSERT_NE(state.contact("phone"), nullptr);
    EXPECT_EQ(state.contact("phone")->value, kPhone);
    EXPECT_EQ(state.contact("phone")->source, "self");
    EXPECT_FALSE(state.line_linked);
}

TEST_F(SqliteStoreTest, MigratesASchemaTwoSendLogUnderTheLoginBudgetsKeys) {
    open_store().reset();
    // The send log as schema 2 kept it: one row per send, user and destination hash.
    tamper(
        path_,
        kBackToSchemaThree +
            "ALTER TABLE users DROP COLUMN failures_in_a_row;"
            "ALTER TABLE users DROP COLUMN passwordless_failures;"
            "DROP TABLE send_log; CREATE TABLE sends (id INTEGER PRIMARY KEY, user TEXT NOT NULL,"
            " destination TEXT NOT NULL, at INTEGER NOT NULL);"
            "INSERT INTO sends (user, destination, at) VALUES ('taro', 'dh1', 100),"
            " ('taro', 'dh2', 200), ('jiro', 'dh1', 300);"
            "PRAGMA user_version = 2;");
    auto store = open_store();
    EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
    EXPECT_EQ(store->sends_since("user:taro", 0), 2);
    EXPECT_EQ(store->sends_since("destination:dh1", 0), 2);
    EXPECT_EQ(store->sends_since("host", 150), 2);
}

// A tmpfs holding a copy of `file` and `room` bytes more: writes past that fail with
// ENOSPC. Unmounted when it goes.
class SmallTmpfs {
  public:
    SmallTmpfs(const fs::path& where, const fs::path& file, uintmax_t room) : where_(where) {
        fs::create_directories(where_);
        std::string size = "size=" + std::to_string(fs::file_size(file) + room) + ",mode=0700";
        if (::mount("tmpfs", where_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, size.c_str()) != 0) {
            throw std::runtime_error("mount tmpfs: " + std::string(std::strerror(errno)));
        }
        fs::copy_file(file, where_ / file.filename());
    }
    ~SmallTmpfs() { ::umount2(where_.c_str(), MNT_DETACH); }
    SmallTmpfs(const SmallTmpfs&) = delete;
    SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  private:
    fs::path where_;
};

TEST_F(SqliteStoreTest, AFullDiskDuringAMigrationIsUnavailable) {
    open_store().reset();
    // A schema 3 database whose migration rewrites every row of a large users table.
    tamper(path_, kBackToSchemaThree +
                      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                      "20000) INSERT INTO users (name) SELECT 'user' || i FROM n;"
                      "INSERT INTO contacts (user, kind, sealed_value, verified_at) "
                      "SELECT name, 'email', x'00', 0 FROM users;"
                      "PRAGMA user_version = 3;");
    // Room for SQLite's shared memory and the start of the log, not for the migration.
    SmallTmpfs small(dir_.path() / "small", path_, 64 * 1024);
    std::string small_path = (dir_.path() / "small/lwauth.db").string();
    auto open_small = [&] { SqliteStore(small_path, ContactCipher(key_of('c'), random_)); };
    EXPECT_EQ(error_code_of(open_small), Errc::Unavailable);
}

// ---- ImmediateStore over SqliteStore ----------------------------------------------------

TEST_F(SqliteStoreTest, ABackendErrorBecomesTheResultsErrorOnce) {
    {
        auto store = open_store();
        store->save_contact("taro", {"phone", kPhone});
    }
    tamper(path_, "UPDATE contacts SET sealed_value = x'00112233'");
    ImmediateStore async(open_store());
    int calls = 0;
    std::optional<Result<UserState>> got;
    async.load_user("taro", [&](Result<UserState> r) {
        ++calls;
        got.emplace(std::move(r));
    });
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->ok());
    EXPECT_EQ(got->error().code(), Errc::Internal);
}

TEST_F(SqliteStoreTest, WhatDoneThrowsIsNotTakenForTheStoresError) {
    ImmediateStore async(open_store());
    int calls = 0;
    auto call = [&] {
        async.set_two_step("taro", true, [&](Result<void> r) {
            ++calls;
            r.value();
            throw Error(Errc::NotFound, "thrown by the caller's callback");
        });
    };
    EXPECT_EQ(error_code_of(call), Errc::NotFound);
    EXPECT_EQ(calls, 1) << "done is not called again with its own error";
}

// Past the migration too: a write that finds the disk full is Unavailable, as every call
// that fails with SQLITE_FULL.
TEST_F(SqliteStoreTest, AFullDiskOnAWriteIsUnavailable) {
    open_store().reset();
    SmallTmpfs small(dir_.path() / "small", path_, 64 * 1024);
    std::string small_path = (dir_.path() / "small/lwauth.db").string();
    SqliteStore store(small_path, ContactCipher(key_of('c'), random_));
    auto fill = [&] {
        for (int i = 0; i < 100000; ++i) {
            store.save_contact("user" + std::to_string(i), Contact{"email", "someone@example.com"});
        }
    };
    EXPECT_EQ(error_code_of(fill), Errc::Unavailable);
}

// ---- ContactCipher on its own -----------------------------------------------------------

TEST(ContactCipher, OpensWhatItSealed) {
    OpenSslRandom random;
    ContactCipher cipher(key_of('c'), random);
    std::string sealed = cipher.seal(kPhone, "taro\nphone");
    EXPECT_EQ(sealed.size(), 12 + std::string(kPhone).size() + 16);
    EXPECT_EQ(sealed.find(kPhone), std::string::npos);
    EXPECT_EQ(cipher.open(sealed, "taro\nphone"), kPhone);
}

TEST(ContactCipher, SealingTwiceGivesDifferentBytes) {
    OpenSslRandom random;
    ContactCipher cipher(key_of('c'), random);
    EXPECT_NE(cipher.seal(kPhone, "taro\nphone"), cipher.seal(kPhone, "taro\nphone"));
}

TEST(ContactCipher, RefusesAnotherBindingAKeyOrADamagedValue) {
    OpenSslRandom random;
    ContactCipher cipher(key_of('c'), random);
    ContactCipher other(key_of('d'), random);
    std::string sealed = cipher.seal(kPhone, "taro\nphone");
    EXPECT_EQ(error_code_of([&] { (void)cipher.open(sealed, "jiro\nphone"); }), Errc::Internal);
    EXPECT_EQ(error_code_of([&] { (void)cipher.open(sealed, "taro\nemail"); }), Errc::Internal);
    EXPECT_EQ(error_code_of([&] { (void)other.open(sealed, "taro\nphone"); }), Errc::Internal);
    std::string flipped = sealed;
    flipped[14] = static_cast<char>(flipped[14] ^ 1);
    EXPECT_EQ(error_code_of([&] { (void)cipher.open(flipped, "taro\nphone"); }), Errc::Internal);
    EXPECT_EQ(error_code_of([&] { (void)cipher.open(sealed.substr(0, 27), "taro\nphone"); }),
              Errc::Internal);
}

TEST(ContactCipher, OldKeysOpenWhatTheySealedAndOnlyTheCurrentKeySeals) {
    OpenSslRandom random;
    ContactCipher before(key_of('c'), random);
    std::string old_sealed = before.seal(kPhone, "taro\nphone");
    std::vector<SecretString> old_keys;
    old_keys.push_back(key_of('b'));
    old_keys.push_back(key_of('c'));
    ContactCipher rotated(key_of('d'), random, std::move(old_keys));
    EXPECT_EQ(rotated.open(old_sealed, "taro\nphone"), kPhone);
    auto opened = rotated.try_open(old_sealed, "taro\nphone");
    ASSERT_TRUE(opened.has_value());
    EXPECT_FALSE(opened->current);
    EXPECT_EQ(opened->plaintext, kPhone);
    // An old key still binds: another row does not open.
    EXPECT_FALSE(rotated.try_open(old_sealed, "jiro\nphone").has_value());

    std::string new_sealed = rotated.seal(kPhone, "taro\nphone");
    EXPECT_TRUE(rotated.try_open(new_sealed, "taro\nphone")->current);
    EXPECT_EQ(ContactCipher(key_of('d'), random).open(new_sealed, "taro\nphone"), kPhone);
    EXPECT_EQ(error_code_of([&] { (void)before.open(new_sealed, "taro\nphone"); }),
              Errc::Internal)
        << "sealed under the current key, not an old one";
    // Opaque bytes, NULs included.
    std::string binary("\0\x01\xff", 3);
    EXPECT_EQ(rotated.open(rotated.seal(binary, "taro\ntotp"), "taro\ntotp"), binary);
}

}  // namespace
}  // namespace lwauth
