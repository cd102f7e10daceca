// The keyed hash of a LINE `sub`: the only thing a link keeps of a LINE account.
#include "line/subject.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "lwauth/error.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/text.hpp"

namespace lwauth::line {
namespace {

using test::TempDir;

const std::string kChannel = "1657000000";
const std::string kSub = "U4af4980629a1b2c3d4e5f60718293a4b";

std::string key_bytes() {
    std::string key;
    for (int i = 0; i < 32; ++i) {
        key.push_back(static_cast<char>(i));
    }
    return key;
}

// HMAC-SHA256 as the openssl command computes it, from a file holding the exact bytes.
std::string openssl_hmac_hex(const std::string& key, const std::string& message,
                             const TempDir& dir) {
    std::string path = dir.file("message");
    std::ofstream(path, std::ios::binary) << message;
    std::string command = "openssl dgst -sha256 -mac HMAC -macopt hexkey:" +
                          hex_encode(reinterpret_cast<const uint8_t*>(key.data()), key.size()) +
                          " -r '" + path + "'";
    FILE* pipe = ::popen(command.c_str(), "r");
    char out[65] = {};
    size_t n = pipe != nullptr ? std::fread(out, 1, 64, pipe) : 0;
    if (pipe != nullptr) {
        ::pclose(pipe);
    }
    return std::string(out, n);
}

std::string write_key_file(const TempDir& dir, const std::string& content, mode_t mode,
                           const std::string& name = "line-subject.key") {
    std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
    return path;
}

TEST(LineSubject, IsHmacSha256OfContextChannelAndSubJoinedByNul) {
    TempDir dir;
    SubjectHasher hasher{Hasher{SecretString(key_bytes())}};
    const std::string message = std::string("line-sub") + '\0' + kChannel + '\0' + kSub;
    std::string expected = openssl_hmac_hex(key_bytes(), message, dir);
    ASSERT_EQ(expected.size(), 64u);
    EXPECT_EQ(hasher.hash(kChannel, kSub), expected);
    // The same value from Python's hmac module, so that the test does not rest on one tool:
    // hmac.new(bytes(range(32)), b"line-sub\0" b"1657000000\0" b"U4af...4b", "sha256")
    EXPECT_EQ(hasher.hash(kChannel, kSub),
              "4fa2bee5a0bd7f9c5e8d49023079f20d7e594c54161f56363ed802fb2eaf4a30");
}

TEST(LineSubject, DiffersByChannelAndBySub) {
    SubjectHasher hasher{Hasher{SecretString(key_bytes())}};
    std::string linked = hasher.hash(kChannel, kSub);
    EXPECT_NE(hasher.hash("1657000001", kSub), linked);
    EXPECT_NE(hasher.hash(kChannel, kSub + "0"), linked);
    // The NUL between them keeps ("1", "23") and ("12", "3") apart.
    EXPECT_NE(hasher.hash("1", "23"), hasher.hash("12", "3"));
    // Another context of the same key (a code's, codes.hpp) never gives the same bytes.
    EXPECT_NE(Hasher(SecretString(key_bytes())).keyed_hex("code", kChannel + '\0' + kSub), linked);
    EXPECT_TRUE(hasher.matches(linked, kChannel, kSub));
    EXPECT_FALSE(hasher.matches(linked, kChannel, "U4af4980629a1b2c3d4e5f60718293a4c"));
    EXPECT_FALSE(hasher.matches(linked.substr(0, 63), kChannel, kSub));
}

TEST(LineSubject, WithoutASubjectKeyFileTheHostKeyHashes) {
    Hasher host{SecretString(key_bytes())};
    policy::LinePolicy line;
    EXPECT_EQ(subject_hasher(line, host, this_process_reader()).hash(kChannel, kSub),
              "4fa2bee5a0bd7f9c5e8d49023079f20d7e594c54161f56363ed802fb2eaf4a30");
}

TEST(LineSubject, ASubjectKeyFileIsTheKeyLessOneTrailingNewline) {
    TempDir dir;
    const std::string fleet_key(64, 'f');  // what `openssl rand -hex 32` writes, in shape
    policy::LinePolicy line;
    line.subject_key_file = write_key_file(dir, fleet_key + "\n", 0600);
    Hasher host{SecretString(key_bytes())};
    std::string hashed = subject_hasher(line, host, this_process_reader()).hash(kChannel, kSub);
    const std::string message = std::string("line-sub") + '\0' + kChannel + '\0' + kSub;
    EXPECT_EQ(hashed, openssl_hmac_hex(fleet_key, message, dir));
    EXPECT_NE(hashed, SubjectHasher(host).hash(kChannel, kSub));
}

TEST(LineSubject, RefusesAShortOrExposedSubjectKeyFile) {
    TempDir dir;
    Hasher host{SecretString(key_bytes())};
    policy::LinePolicy line;
    line.subject_key_file = write_key_file(dir, std::string(31, 'k') + "\n", 0600);
    try {
        (void)subject_hasher(line, host, this_process_reader());
        ADD_FAILURE() << "a 31-byte key was taken";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::Internal);
        EXPECT_NE(std::string(e.what()).find("fewer than 32 bytes"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find("kkkk"), std::string::npos);
    }
    line.subject_key_file = write_key_file(dir, std::string(32, 'k'), 0644);
    EXPECT_THROW((void)subject_hasher(line, host, this_process_reader()), Error);
}

TEST(LineSubject, EarlierSubjectKeysGiveTheHashesLinksKeptUnderThem) {
    TempDir dir;
    Hasher host{SecretString(key_bytes())};
    policy::LinePolicy line;
    line.subject_key_file = write_key_file(dir, std::string(32, 'c') + "\n", 0600);
    line.subject_old_key_files = {write_key_file(dir, std::string(32, 'a'), 0600, "a.key"),
                                  write_key_file(dir, std::string(33, 'b') + "\n", 0600, "b.key")};
    SubjectHasher hasher = subject_hasher(line, host, this_process_reader());
    const std::string message = std::string("line-sub") + '\0' + kChannel + '\0' + kSub;
    EXPECT_EQ(hasher.hash(kChannel, kSub), openssl_hmac_hex(std::string(32, 'c'), message, dir));
    EXPECT_EQ(hasher.old_hashes(kChannel, kSub),
              (std::vector<std::string>{openssl_hmac_hex(std::string(32, 'a'), message, dir),
                                        openssl_hmac_hex(std::string(33, 'b'), message, dir)}));

    // An earlier key is checked as the current one is.
    line.subject_old_key_files.push_back(write_key_file(dir, std::string(31, 'd'), 0600, "d.key"));
    try {
        (void)subject_hasher(line, host, this_process_reader());
        ADD_FAILURE() << "a 31-byte earlier key was taken";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("subject_old_key_files"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("fewer than 32 bytes"), std::string::npos);
    }
}

TEST(LineSubject, WithoutASubjectKeyFileTheEarlierCodeKeysAreTheEarlierKeys) {
    std::vector<SecretString> old_code_keys;
    old_code_keys.emplace_back(std::string(32, 'o'));
    Hasher host{SecretString(key_bytes()), old_code_keys};
    policy::LinePolicy line;
    SubjectHasher hasher = subject_hasher(line, host, this_process_reader());
    std::vector<std::string> old = hasher.old_hashes(kChannel, kSub);
    ASSERT_EQ(old.size(), 1u);
    EXPECT_EQ(old[0],
              SubjectHasher(Hasher{SecretString(std::string(32, 'o'))}).hash(kChannel, kSub));
    EXPECT_TRUE(
        SubjectHasher(Hasher{SecretString(key_bytes())}).old_hashes(kChannel, kSub).empty());
}

}  // namespace
}  // namespace lwauth::line
