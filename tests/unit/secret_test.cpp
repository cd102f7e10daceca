#include "lwauth/secret.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <cstring>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

template <class T, class = void>
struct Streamable : std::false_type {};
template <class T>
struct Streamable<T,
                  std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

// A secret cannot reach a log by accident: no implicit copy, no stream operator.
static_assert(!std::is_copy_constructible_v<SecretString>);
static_assert(!std::is_copy_assignable_v<SecretString>);
static_assert(std::is_nothrow_move_constructible_v<SecretString>);
static_assert(std::is_nothrow_move_assignable_v<SecretString>);
static_assert(!Streamable<SecretString>::value);
static_assert(!std::is_convertible_v<SecretString, std::string>);
static_assert(!std::is_convertible_v<std::string_view, SecretString>);

TEST(SecretString, HoldsTheValueAsANulTerminatedString) {
    SecretString secret("123456");
    EXPECT_EQ(secret.view(), "123456");
    EXPECT_EQ(secret.size(), 6u);
    EXPECT_FALSE(secret.empty());
    EXPECT_STREQ(secret.c_str(), "123456");
}

TEST(SecretString, KeepsEmbeddedNulBytes) {
    SecretString secret(std::string_view("a\0b", 3));
    EXPECT_EQ(secret.size(), 3u);
    EXPECT_EQ(secret.view(), std::string_view("a\0b", 3));
}

TEST(SecretString, DefaultIsEmptyWithAnEmptyCString) {
    SecretString secret;
    EXPECT_TRUE(secret.empty());
    EXPECT_EQ(secret.size(), 0u);
    EXPECT_STREQ(secret.c_str(), "");
}

TEST(SecretString, MoveLeavesTheSourceEmpty) {
    SecretString source("123456");
    SecretString target(std::move(source));
    EXPECT_EQ(target.view(), "123456");
    EXPECT_TRUE(
        source.empty());  // NOLINT(bugprone-use-after-move): the state after a move is the point
    EXPECT_STREQ(source.c_str(), "");
}

TEST(SecretString, MoveAssignmentReplacesTheOldValueAndEmptiesTheSource) {
    SecretString source("654321");
    SecretString target("old-pin");
    target = std::move(source);
    EXPECT_EQ(target.view(), "654321");
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretString, SelfMoveAssignmentKeepsTheValue) {
    SecretString secret("123456");
    SecretString& alias = secret;
    secret = std::move(alias);
    EXPECT_EQ(secret.view(), "123456");
}

TEST(SecretString, ClearEmptiesIt) {
    SecretString secret("123456");
    secret.clear();
    EXPECT_TRUE(secret.empty());
    EXPECT_EQ(secret.view(), "");
    EXPECT_STREQ(secret.c_str(), "");
    secret.clear();  // twice is harmless
    EXPECT_TRUE(secret.empty());
}

TEST(SecretString, CloneIsAnIndependentCopy) {
    SecretString original("123456");
    SecretString copy = original.clone();
    EXPECT_EQ(copy.view(), "123456");
    EXPECT_NE(copy.c_str(), original.c_str());
    original.clear();
    EXPECT_EQ(copy.view(), "123456");
}

TEST(SecureWipe, ZeroesTheBuffer) {
    char buffer[8];
    std::memcpy(buffer, "1234567", 8);
    secure_wipe(buffer, sizeof buffer);
    for (char c : buffer) {
        EXPECT_EQ(c, '\0');
    }
    secure_wipe(nullptr, 4);  // tolerated
}

TEST(WipeString, EmptiesTheString) {
    std::string value = "123456";
    wipe_string(value);
    EXPECT_TRUE(value.empty());
}

TEST(SecretEqual, IsTrueOnlyForIdenticalBytes) {
    EXPECT_TRUE(secret_equal("123456", "123456"));
    EXPECT_TRUE(secret_equal("", ""));
    EXPECT_FALSE(secret_equal("123456", "123457"));
    EXPECT_FALSE(secret_equal("123456", "023456"));
    EXPECT_FALSE(secret_equal("123456", "1234567"));
    EXPECT_FALSE(secret_equal("123456", "12345"));
    EXPECT_FALSE(secret_equal("", "1"));
    EXPECT_FALSE(secret_equal(std::string_view("12\0", 3), std::string_view("12\1", 3)));
}

// A secret file as lwauthd reads it at use: checked on the descriptor that is read.
class SecretFile : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "lwauth-secret-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text, mode_t mode) {
        std::string path = (dir_ / name).string();
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
        return path;
    }

    // The reason read_secret_file gives, or "" when it reads the file.
    static std::string refusal(const std::string& path,
                               const SecretReader& reader = this_process_reader()) {
        try {
            (void)read_secret_file(path, reader);
            return "";
        } catch (const Error& e) {
            return e.what();
        }
    }

    std::filesystem::path dir_;
};

TEST_F(SecretFile, ReadsAPrivateFileLessOneTrailingNewline) {
    std::string path = write("token", "s3cret\n", 0600);
    EXPECT_EQ(read_secret_file(path, this_process_reader()).view(), "s3cret");
}

// The packages' layout: root:lwauth 0640, read by lwauthd through its group.
TEST_F(SecretFile, ReadsAFileTheReadersGroupMayRead) {
    std::string path = write("token", "s3cret\n", 0640);
    EXPECT_EQ(refusal(path), "");
}

TEST_F(SecretFile, RefusesAFileOthersMayRead) {
    std::string path = write("token", "s3cret", 0644);
    std::string why = refusal(path);
    EXPECT_NE(why.find("cannot read secret file " + path + ": must be owned by"), std::string::npos)
        << why;
    EXPECT_NE(why.find("with mode 0644"), std::string::npos) << why;
    EXPECT_EQ(why.find("s3cret"), std::string::npos);
}

TEST_F(SecretFile, RefusesAFileAnotherGroupMayRead) {
    std::string path = write("token", "s3cret", 0640);
    SecretReader reader{::geteuid(), ::getegid() + 1};
    std::string why = refusal(path, reader);
    EXPECT_NE(why.find("it is owned by " + owner_text(::geteuid()) + ", group " +
                       group_text(::getegid()) + ", with mode 0640"),
              std::string::npos)
        << why;
    EXPECT_EQ(refusal(write("token", "s3cret", 0600), reader), "");
}

TEST_F(SecretFile, RefusesAFileOfAnotherOwner) {
    std::string path = write("token", "s3cret", 0600);
    // Root's files are accepted: as root, give the file away; otherwise ask for another.
    SecretReader reader = this_process_reader();
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(path.c_str(), 40123, static_cast<gid_t>(-1)), 0);
    } else {
        reader.uid = ::geteuid() + 1;
    }
    std::string why = refusal(path, reader);
    EXPECT_NE(why.find("must be owned by root"), std::string::npos) << why;
    EXPECT_NE(why.find("it is owned by uid"), std::string::npos) << why;
}

TEST_F(SecretFile, RefusesASymbolicLinkEvenToAGoodFile) {
    std::string path = write("token", "s3cret", 0600);
    std::filesystem::create_symlink(path, dir_ / "link");
    EXPECT_EQ(refusal((dir_ / "link").string()),
              "cannot read secret file " + (dir_ / "link").string() +
                  ": is a symbolic link, which lwauth does not follow here");
}

TEST_F(SecretFile, AFifoIsRefusedWithoutHanging) {
    std::string path = (dir_ / "fifo").string();
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    EXPECT_EQ(refusal(path), "cannot read secret file " + path + ": is not a regular file");
}

}  // namespace
}  // namespace lwauth
