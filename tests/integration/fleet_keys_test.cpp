// Keys a fleet shares ([store] code_key_file, contacts_key_file) and the rotation of the
// contacts key (contacts_old_key_files), through the real lwauthd on SQLite; the fleet
// itself, two lwauthd on one PostgreSQL, is in pg_store_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "harness.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPhone = "+819012345678";

class FleetKeys : public ::testing::Test {
  protected:
    void SetUp() override { bus_ = std::make_unique<PrivateBus>(dir_.path(), false); }

    // A key file as an administrator makes one: 32 bytes of `fill`, root's, 0600.
    fs::path key(const std::string& name, char fill) const {
        fs::path path = dir_ / name;
        write_file(path, std::string(32, fill), fs::perms(0600));
        return path;
    }

    std::string policy(const std::string& store) const {
        return default_test_policy(dir_ / "outbox.jsonl", "[store]\n" + store);
    }

    void start(const std::string& store) {
        if (!daemon_) {
            daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy(store));
        } else {
            daemon_->write_policy(policy(store));
        }
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    // Whether lwauthd opens `user`'s sealed contact: `status` shows it masked.
    bool opens(const std::string& user) const {
        auto status = daemon_->ctl(user, {"--json", "status"});
        return status.exit_code == 0 && status.out.find("\u2022") != std::string::npos;
    }

    TempDir dir_{"lwauth-keys"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(FleetKeys, KeysNamedByThePolicyAreReadAndNoneIsMadeInTheStateDirectory) {
    fs::path code = key("code.key", 'c');
    // The hexadecimal form too (openssl rand -hex 32).
    fs::path contacts = dir_ / "contacts.hex";
    write_file(contacts, std::string(64, 'a') + "\n", fs::perms(0600));
    start("code_key_file = " + code.string() + "\ncontacts_key_file = " + contacts.string() +
          "\n");
    ASSERT_TRUE(daemon_->enroll("alice", "phone", kPhone)) << daemon_->log();
    EXPECT_TRUE(opens("alice")) << daemon_->log();
    EXPECT_FALSE(fs::exists(daemon_->state_dir() / "code.key"));
    EXPECT_FALSE(fs::exists(daemon_->state_dir() / "contacts.key"));

    // The same contacts key written as raw bytes still opens what it sealed.
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    write_file(contacts, std::string(32, '\xaa'), fs::perms(0600));
    start("code_key_file = " + code.string() + "\ncontacts_key_file = " + contacts.string() +
          "\n");
    EXPECT_TRUE(opens("alice")) << daemon_->log();

    // Another key does not.
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    start("code_key_file = " + code.string() +
          "\ncontacts_key_file = " + key("other.key", 'o').string() + "\n");
    EXPECT_FALSE(opens("alice")) << daemon_->log();
}

TEST_F(FleetKeys, AKeyFileThatIsMissingOrOfTheWrongSizeStopsTheStart) {
    start("");
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    fs::path short_key = dir_ / "short.key";
    write_file(short_key, std::string(31, 'x'), fs::perms(0600));
    daemon_->write_policy(policy("contacts_key_file = " + short_key.string() + "\n"));
    EXPECT_FALSE(daemon_->start()) << "lwauthd started on a 31-byte key";
    std::string log = daemon_->log();
    EXPECT_NE(log.find("event=start-failed"), std::string::npos) << log;
    EXPECT_NE(log.find("[store] contacts_key_file: " + short_key.string() +
                       " must hold 32 bytes or 64 hexadecimal digits"),
              std::string::npos)
        << log;

    // Readable by others: refused by the policy check before any key is read.
    fs::path open_key = key("open.key", 'k');
    fs::permissions(open_key, fs::perms(0644));
    daemon_->write_policy(policy("code_key_file = " + open_key.string() + "\n"));
    EXPECT_FALSE(daemon_->start()) << "lwauthd started on a key others may read";
    log = daemon_->log();
    EXPECT_NE(log.find("code_key_file: " + open_key.string()), std::string::npos) << log;
}

TEST_F(FleetKeys, AnOldContactsKeyStillOpensAndTheCurrentOneSeals) {
    fs::path old_key = key("old.key", '1');
    fs::path new_key = key("new.key", '2');
    start("contacts_key_file = " + old_key.string() + "\n");
    ASSERT_TRUE(daemon_->enroll("alice", "phone", kPhone)) << daemon_->log();
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();

    start("contacts_key_file = " + new_key.string() +
          "\ncontacts_old_key_files = " + old_key.string() + "\n");
    EXPECT_TRUE(opens("alice")) << "sealed under the old key: " << daemon_->log();
    ASSERT_TRUE(daemon_->enroll("bob", "phone", "+819087654321")) << daemon_->log();
    EXPECT_TRUE(opens("bob")) << daemon_->log();
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();

    // Without the old key: what the new key sealed opens, what the old one sealed does not.
    start("contacts_key_file = " + new_key.string() + "\n");
    EXPECT_TRUE(opens("bob")) << "sealed under the new key: " << daemon_->log();
    EXPECT_FALSE(opens("alice")) << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
