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
#include "store/contact_cipher.hpp"

namespace lwauth {
namespace {

using test::error_code_of;
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

TEST_F(SqliteStoreTest, TightensAnExistingDatabaseFileReadableByOthers) {
    std::ofstream(path_).close();
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
    auto store = open_store();
    EXPECT_EQ(mode_of(path_), 0600u);
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

// ---- Users and contacts -----------------------------------------------------------------

TEST_F(SqliteStoreTest, AnUnknownUserHasTheDefaultState) {
    auto store = open_store();
    UserState state = store->load_user("nobody");
    EXPECT_FALSE(state.two_step);
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_EQ(state.failures, 0);
    EXPECT_EQ(state.locked_until, 0);
    EXPECT_TRUE(store->list_users().empty());
}

TEST_F(SqliteStoreTest, ContactsRoundTrip) {
    auto store = open_store();
    store->save_contact("taro", {"phone", kPhone});
    store->save_contact("taro", {"email", kEmail});
    UserState state = store->load_user("taro");
    ASSERT_EQ(state.contacts.size(), 2u);
    ASSERT_NE(state.contact("phone"), nullptr);
    ASSERT_NE(state.contact("email"), nullptr);
    EXPECT_EQ(state.contact("phone")->value, kPhone);
    EXPECT_EQ(state.contact("email")->value, kEmail);
    EXPECT_EQ(store->list_users(), std::vector<std::string>{"taro"});
}

TEST_F(SqliteStoreTest, SavingAContactReplacesTheOneOfTheSameKind) {
    auto store = open_store();
    store->save_contact("taro", {"phone", kPhone});
    store->save_contact("taro", {"phone", "+14155552671"});
    UserState state = store->load_user("taro");
    ASSERT_EQ(state.contacts.size(), 1u);
    EXPECT_EQ(state.contacts[0].value, "+14155552671");
}

TEST_F(SqliteStoreTest, RemovesOneContactKind) {
    auto store = open_store();
    store->save_contact("taro", {"phone", kPhone});
    store->save_contact("taro", {"email", kEmail});
    store->remove_contact("taro", "phone");
    UserState state = store->load_user("taro");
    EXPECT_EQ(state.contact("phone"), nullptr);
    ASSERT_NE(state.contact("email"), nullptr);
}

TEST_F(SqliteStoreTest, ContactsOfOneUserAreNotSeenByAnother) {
    auto store = open_store();
    store->save_contact("taro", {"phone", kPhone});
    store->set_two_step("jiro", true);
    EXPECT_TRUE(store->load_user("jiro").contacts.empty());
}

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

TEST_F(SqliteStoreTest, TwoStepFlagIsKept) {
    auto store = open_store();
    store->set_two_step("taro", true);
    EXPECT_TRUE(store->load_user("taro").two_step);
    store->set_two_step("taro", false);
    EXPECT_FALSE(store->load_user("taro").two_step);
}

// ---- Failures and lockout ---------------------------------------------------------------

TEST_F(SqliteStoreTest, AddFailureReturnsTheNewCount) {
    auto store = open_store();
    EXPECT_EQ(store->add_failure("taro").failures, 1);
    EXPECT_EQ(store->add_failure("taro").failures, 2);
    EXPECT_EQ(store->add_failure("taro").failures, 3);
    EXPECT_EQ(store->load_user("taro").failures, 3);
    EXPECT_EQ(store->add_failure("jiro").failures, 1);
}

TEST_F(SqliteStoreTest, AddFailureCountsInTheDatabaseNotInTheConnection) {
    // Two connections interleaving see one counter: the increment happens in SQL.
    auto first = open_store();
    auto second = open_store();
    EXPECT_EQ(first->add_failure("taro").failures, 1);
    EXPECT_EQ(second->add_failure("taro").failures, 2);
    EXPECT_EQ(first->add_failure("taro").failures, 3);
}

TEST_F(SqliteStoreTest, FailuresInARowOutliveALockAndPasswordlessOnesAreApart) {
    auto store = open_store();
    (void)store->add_failure("taro");
    store->lock("taro", 5000);
    FailureCount count = store->add_failure("taro");
    EXPECT_EQ(count.failures, 1) << "a lock starts the lockout's count again";
    EXPECT_EQ(count.in_a_row, 2) << "...but not the count in a row";
    EXPECT_EQ(store->add_passwordless_failure("taro"), 1);
    EXPECT_EQ(store->add_passwordless_failure("taro"), 2);
    EXPECT_EQ(store->lock_state("taro").passwordless_failures, 2);
    EXPECT_EQ(store->load_user("taro").failures, 1) << "passwordless ones are counted apart";
    store->clear_failures("taro");
    EXPECT_EQ(store->add_failure("taro").in_a_row, 1);
    EXPECT_EQ(store->load_user("taro").passwordless_failures, 0);
}

TEST_F(SqliteStoreTest, LockSetsTheDeadlineAndResetsFailures) {
    auto store = open_store();
    (void)store->add_failure("taro");
    (void)store->add_failure("taro");
    store->lock("taro", 1'700'000'900);
    UserState state = store->load_user("taro");
    EXPECT_EQ(state.locked_until, 1'700'000'900);
    EXPECT_EQ(state.failures, 0);
}

TEST_F(SqliteStoreTest, ClearFailuresUnlocks) {
    auto store = open_store();
    store->lock("taro", 1'700'000'900);
    (void)store->add_failure("taro");
    store->clear_failures("taro");
    UserState state = store->load_user("taro");
    EXPECT_EQ(state.locked_until, 0);
    EXPECT_EQ(state.failures, 0);
    store->clear_failures("never-seen");  // harmless
    EXPECT_EQ(store->load_user("never-seen").failures, 0);
}

// ---- Send counters ----------------------------------------------------------------------

// A reservation under a user's, a destination's and the host's key, with room to spare.
SendReservation record(Store& store, const std::string& user, const std::string& destination,
                       int64_t at) {
    SendReservation r = store.reserve_send(
        {{"user:" + user, 1000}, {"destination:" + destination, 1000}, {"host", 1000}}, 0, at);
    EXPECT_TRUE(r.reserved());
    return r;
}

TEST_F(SqliteStoreTest, CountsSendsUnderEachKeyAndTime) {
    auto store = open_store();
    record(*store, "taro", "dest-a", 100);
    record(*store, "taro", "dest-b", 200);
    record(*store, "jiro", "dest-a", 300);

    EXPECT_EQ(store->sends_since("user:taro", 0), 2);
    EXPECT_EQ(store->sends_since("user:taro", 150), 1);
    EXPECT_EQ(store->sends_since("user:taro", 201), 0);
    EXPECT_EQ(store->sends_since("user:jiro", 0), 1);

    EXPECT_EQ(store->sends_since("destination:dest-a", 0), 2);
    EXPECT_EQ(store->sends_since("destination:dest-a", 101), 1);
    EXPECT_EQ(store->sends_since("destination:dest-c", 0), 0);

    EXPECT_EQ(store->sends_since("host", 0), 3);
    EXPECT_EQ(store->sends_since("host", 200), 2);  // `since` is inclusive
    EXPECT_EQ(store->sends_since("host", 301), 0);
}

TEST_F(SqliteStoreTest, AReservationChecksEveryCapAtOnceOrRecordsNothing) {
    auto store = open_store();
    std::vector<SendCap> caps = {{"user:taro", 3}, {"destination:d", 2}, {"host", 10}};
    EXPECT_TRUE(store->reserve_send(caps, 0, 100).reserved());
    EXPECT_TRUE(store->reserve_send(caps, 0, 101).reserved());
    SendReservation third = store->reserve_send(caps, 0, 102);
    EXPECT_FALSE(third.reserved());
    EXPECT_EQ(third.capped, 1) << "the destination's cap is the one reached";
    // Window [0, 102]: 102 s long. The send at 100 leaves it at 202, leaving room.
    EXPECT_EQ(third.room_at, 100 + 102);
    EXPECT_EQ(store->sends_since("user:taro", 0), 2) << "a capped send counts nowhere";
    EXPECT_EQ(store->sends_since("host", 0), 2);
    // The window: sends before `since` do not count.
    EXPECT_TRUE(store->reserve_send(caps, 101, 103).reserved());
}

TEST_F(SqliteStoreTest, ACappedReservationSaysWhenTheCapHasRoomAgain) {
    auto store = open_store();
    std::vector<SendCap> caps = {{"user:taro", 2}};
    const int64_t hour = 3600;
    for (int64_t at : {1000, 1500, 2000}) {
        (void)store->reserve_send(caps, at - hour, at);
    }
    // Sends at 1000 and 1500 fill the cap; the oldest of the two leaves at 4600.
    SendReservation capped = store->reserve_send(caps, 3000 - hour, 3000);
    ASSERT_FALSE(capped.reserved());
    EXPECT_EQ(capped.room_at, 1000 + hour);
    // Past 4600 only the send at 1500 is in the window, and there is room.
    EXPECT_TRUE(store->reserve_send(caps, 4601 - hour, 4601).reserved());
    SendReservation again = store->reserve_send(caps, 4602 - hour, 4602);
    EXPECT_EQ(again.room_at, 1500 + hour);
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
    record(*store, "taro", "d1", 100);
    record(*store, "taro", "d2", 101);
    EXPECT_EQ(open_store()->sends_since("user:taro", 0), 2);
}

TEST_F(SqliteStoreTest, PruneForgetsOnlyOlderSends) {
    auto store = open_store();
    record(*store, "taro", "dest-a", 100);
    record(*store, "taro", "dest-a", 200);
    record(*store, "taro", "dest-a", 300);
    store->prune_sends(200);
    EXPECT_EQ(store->sends_since("host", 0), 2);
    EXPECT_EQ(store->sends_since("user:taro", 0), 2);
    EXPECT_EQ(store->sends_since("destination:dest-a", 0), 2);
}

TEST_F(SqliteStoreTest, CountsSendsRecordedOutOfTimeOrder) {
    // A wall clock stepped back records a send before the newest one.
    auto store = open_store();
    record(*store, "taro", "dest-a", 300);
    SendReservation early = record(*store, "taro", "dest-a", 100);
    record(*store, "taro", "dest-a", 200);
    EXPECT_EQ(store->sends_since("host", 150), 2);
    EXPECT_EQ(store->sends_since("user:taro", 250), 1);
    EXPECT_EQ(store->sends_since("destination:dest-a", 100), 3);
    store->release_send(early);
    EXPECT_EQ(store->sends_since("host", 0), 2);
    store->prune_sends(250);
    EXPECT_EQ(store->sends_since("host", 0), 1);
}

TEST_F(SqliteStoreTest, CountsAfterReopeningAreTheDatabaseRows) {
    // The counts are kept in memory, loaded from the database when it opens: they must
    // agree with the rows, pruned ones gone.
    {
        auto store = open_store();
        for (int i = 0; i < 50; ++i) {
            record(*store, i % 2 == 0 ? "taro" : "jiro", "dest-" + std::to_string(i % 5), 1000 + i);
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

TEST_F(SqliteStoreTest, LockStateIsTheFailuresAndTheLockout) {
    auto store = open_store();
    EXPECT_EQ(store->lock_state("never-seen").failures, 0);
    EXPECT_EQ(store->lock_state("never-seen").locked_until, 0);
    (void)store->add_failure("taro");
    (void)store->add_failure("taro");
    EXPECT_EQ(store->lock_state("taro").failures, 2);
    store->lock("taro", 5000);
    EXPECT_EQ(store->lock_state("taro").locked_until, 5000);
    EXPECT_EQ(store->lock_state("taro").failures, 0);
}

// ---- Persistence and the contacts key ---------------------------------------------------

TEST_F(SqliteStoreTest, ReopeningKeepsEverything) {
    {
        auto store = open_store();
        store->save_contact("taro", {"phone", kPhone});
        store->set_two_step("taro", true);
        (void)store->add_failure("taro");
        record(*store, "taro", "dest-a", 100);
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

// ---- Schema 2: sources, profile, LINE link, PIN ------------------------------------------

TEST_F(SqliteStoreTest, KeepsWhereALoginContactCameFrom) {
    auto store = open_store();
    store->save_contact("taro", {"phone", kPhone, "profile"});
    store->save_contact("taro", {"email", kEmail});
    UserState state = store->load_user("taro");
    EXPECT_EQ(state.contact("phone")->source, "profile");
    EXPECT_EQ(state.contact("email")->source, "self");
    store->save_contact("taro", {"phone", kPhone, "admin"});
    EXPECT_EQ(store->load_user("taro").contact("phone")->source, "admin");
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

TEST_F(SqliteStoreTest, KeepsOnlyWhetherALineLinkAndAPinAreSet) {
    auto store = open_store();
    EXPECT_FALSE(store->load_user("taro").line_linked);
    store->set_line_link("taro", "hmac-of-the-subject");
    store->set_pin_hash("taro", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    UserState state = store->load_user("taro");
    EXPECT_TRUE(state.line_linked);
    EXPECT_TRUE(state.pin_set);
    store->set_line_link("taro", "");
    store->set_pin_hash("taro", "");
    state = store->load_user("taro");
    EXPECT_FALSE(state.line_linked);
    EXPECT_FALSE(state.pin_set);
}

TEST_F(SqliteStoreTest, TheEnrolmentGraceStartsOnceAndSurvivesReopening) {
    auto store = open_store();
    EXPECT_EQ(store->start_enroll_grace("jiro", 1000), 1000);
    EXPECT_EQ(store->start_enroll_grace("jiro", 2000), 1000);
    store.reset();
    store = open_store();
    EXPECT_EQ(store->load_user("jiro").enroll_grace_started, 1000);
    store->clear_enroll_grace("jiro");
    EXPECT_EQ(store->load_user("jiro").enroll_grace_started, 0);
    EXPECT_EQ(store->start_enroll_grace("jiro", 3000), 3000);
}

TEST_F(SqliteStoreTest, RemembersHostsPerServiceAndOriginUntilForgotten) {
    auto store = open_store();
    store->remember_host("taro", {"sshd", "192.0.2.7", 100, 1100});
    store->remember_host("taro", {"sshd", "192.0.2.7", 300, 1300});  // replaces
    store->remember_host("taro", {"login", "local:tty1", 200, 1200});
    store->remember_host("jiro", {"sshd", "192.0.2.7", 400, 1400});
    EXPECT_EQ(store->remembered_host("taro", "sshd", "192.0.2.7"),
              (RememberedHost{"sshd", "192.0.2.7", 300, 1300}));
    EXPECT_EQ(store->remembered_host("taro", "sudo", "192.0.2.7"), std::nullopt);
    store.reset();
    store = open_store();
    EXPECT_EQ(store->remembered_hosts("taro"),
              (std::vector<RememberedHost>{{"login", "local:tty1", 200, 1200},
                                           {"sshd", "192.0.2.7", 300, 1300}}));
    EXPECT_EQ(store->forget_hosts("taro", 250), 1);
    EXPECT_EQ(store->remembered_hosts("taro").size(), 1u);
    EXPECT_EQ(store->forget_hosts("taro"), 1);
    EXPECT_TRUE(store->remembered_hosts("taro").empty());
    EXPECT_EQ(store->remembered_host("jiro", "sshd", "192.0.2.7")->verified_at, 400);
}

TEST_F(SqliteStoreTest, PruningForgetsPlacesPastTheirEndForEveryUser) {
    auto store = open_store();
    store->remember_host("taro", {"sshd", "192.0.2.7", 100, 1100});
    store->remember_host("jiro", {"sshd", "192.0.2.7", 100, 2000});
    store->prune_hosts(1100);
    EXPECT_TRUE(store->remembered_hosts("taro").empty());
    EXPECT_EQ(store->remembered_hosts("jiro").size(), 1u);
}

TEST_F(SqliteStoreTest, SavingAContactMarksTheUserEnrolledUntilAResetOfEverything) {
    auto store = open_store();
    EXPECT_FALSE(store->load_user("taro").enrolled);
    store->save_contact("taro", {"phone", kPhone});
    store->remove_contact("taro", "phone");
    EXPECT_TRUE(store->load_user("taro").enrolled) << "once enrolled, no grace";
    store->clear_enroll_grace("taro");
    EXPECT_FALSE(store->load_user("taro").enrolled);
}

// What schema 4 added, taken away again: a database of schema 3.
constexpr const char* kBackToSchemaThree =
    "DROP TABLE remembered_hosts; ALTER TABLE users DROP COLUMN enroll_grace_started;"
    "ALTER TABLE users DROP COLUMN enrolled;";

TEST_F(SqliteStoreTest, MigratesASchemaThreeDatabaseKeepingItsUsers) {
    open_store()->save_contact("taro", {"phone", kPhone});
    open_store()->set_two_step("jiro", true);
    tamper(path_, std::string(kBackToSchemaThree) + "PRAGMA user_version = 3;");
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
    tamper(path_,
           std::string(kBackToSchemaThree) +
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
    tamper(path_,
           std::string(kBackToSchemaThree) +
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
    tamper(path_, std::string(kBackToSchemaThree) +
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

}  // namespace
}  // namespace lwauth
