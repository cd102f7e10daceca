#include "codes.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "fakes.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

namespace fs = std::filesystem;
using test::file_bytes;
using test::ScriptedRandom;
using test::SeededRandom;
using test::TempDir;

// ---- Uniformity -------------------------------------------------------------------------

constexpr int kDraws = 100'000;
// Critical value of the chi-square distribution with 9 degrees of freedom (ten digits)
// at p = 0.001. The modulo bias that rejection sampling prevents (digits 0-5 drawn 26/256
// of the time, 6-9 only 25/256) gives about 45 at this sample size. The tests that use it
// draw from a fixed-seed source, so they give the same answer on every run.
constexpr double kChiSquareCritical = 27.877;
// The same at p = 1e-6, for the draws from RAND_bytes itself: a test that may fail by
// chance once in a million runs, which checks the real source end to end.
constexpr double kChiSquareCriticalOneInAMillion = 44.8;

double chi_square(const std::array<int, 10>& counts, int total) {
    double expected = total / 10.0;
    double sum = 0;
    for (int observed : counts) {
        double d = observed - expected;
        sum += d * d / expected;
    }
    return sum;
}

std::string describe(const std::array<int, 10>& counts) {
    std::string out;
    for (size_t digit = 0; digit < counts.size(); ++digit) {
        out += std::to_string(digit) + ":" + std::to_string(counts[digit]) + " ";
    }
    return out;
}

TEST(GenerateCode, SingleDigitsAreUniform) {
    SeededRandom random;
    std::array<int, 10> counts{};
    for (int i = 0; i < kDraws; ++i) {
        SecretString code = generate_code(random, 1);
        ASSERT_EQ(code.size(), 1u);
        ++counts[static_cast<size_t>(code.view()[0] - '0')];
    }
    EXPECT_LT(chi_square(counts, kDraws), kChiSquareCritical) << describe(counts);
}

TEST(GenerateCode, EveryPositionOfASixDigitCodeIsUniform) {
    SeededRandom random;
    std::array<std::array<int, 10>, 6> counts{};
    for (int i = 0; i < kDraws; ++i) {
        SecretString code = generate_code(random, 6);
        ASSERT_EQ(code.size(), 6u);
        for (size_t position = 0; position < 6; ++position) {
            ++counts[position][static_cast<size_t>(code.view()[position] - '0')];
        }
    }
    for (size_t position = 0; position < 6; ++position) {
        EXPECT_LT(chi_square(counts[position], kDraws), kChiSquareCritical)
            << "position " << position << ": " << describe(counts[position]);
    }
}

TEST(GenerateCode, DigitsFromRandBytesAreUniform) {
    OpenSslRandom random;
    std::array<int, 10> counts{};
    for (int i = 0; i < kDraws / 6; ++i) {
        SecretString code = generate_code(random, 6);
        for (char c : code.view()) {
            ++counts[static_cast<size_t>(c - '0')];
        }
    }
    EXPECT_LT(chi_square(counts, kDraws / 6 * 6), kChiSquareCriticalOneInAMillion)
        << describe(counts);
}

// ---- Rejection sampling -----------------------------------------------------------------

TEST(GenerateCode, SkipsBytesFrom250Up) {
    ScriptedRandom random({250, 251, 252, 253, 254, 255, 249, 0, 13, 27, 255, 38, 104});
    SecretString code = generate_code(random, 6);
    EXPECT_EQ(code.view(), "903784");
}

TEST(GenerateCode, MapsByte249ToNineAndByteZeroToZero) {
    ScriptedRandom nine({249});
    EXPECT_EQ(generate_code(nine, 1).view(), "9");
    ScriptedRandom zero({0});
    EXPECT_EQ(generate_code(zero, 1).view(), "0");
}

TEST(GenerateCode, EveryAcceptedByteValueGivesEachDigitExactly25Times) {
    // 250 accepted values, 25 per digit: the mapping itself has no bias.
    std::array<int, 10> counts{};
    for (int byte = 0; byte < 250; ++byte) {
        ScriptedRandom random({static_cast<uint8_t>(byte)});
        SecretString code = generate_code(random, 1);
        ASSERT_EQ(code.view(), std::string(1, static_cast<char>('0' + byte % 10)))
            << "byte " << byte;
        ++counts[static_cast<size_t>(byte % 10)];
    }
    for (int count : counts) {
        EXPECT_EQ(count, 25);
    }
}

TEST(GenerateCode, DrawsMoreBytesWhenAWholeBatchIsRejected) {
    std::vector<uint8_t> script(64, 255);
    script.push_back(7);
    ScriptedRandom random(script);
    EXPECT_EQ(generate_code(random, 1).view(), "7");
    EXPECT_GE(random.calls(), 2u);
}

// ---- Lengths ----------------------------------------------------------------------------

TEST(GenerateCode, GivesExactlyTheRequestedNumberOfDigitsFrom6To10) {
    SeededRandom random;
    for (int length = 6; length <= 10; ++length) {
        SecretString code = generate_code(random, length);
        EXPECT_EQ(code.size(), static_cast<size_t>(length));
        EXPECT_TRUE(looks_like_code(code.view(), length)) << "length " << length;
    }
}

TEST(GenerateCode, RefusesLengthsOutsideOneTo32) {
    SeededRandom random;
    for (int length : {-1, 0, 33}) {
        try {
            (void)generate_code(random, length);
            ADD_FAILURE() << "length " << length << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::InvalidArgument) << "length " << length;
        }
    }
}

// ---- Hasher -----------------------------------------------------------------------------

Hasher hasher_with_key(char fill) {
    return Hasher(SecretString(std::string(32, fill)));
}

TEST(Hasher, SameContextAndValueGiveTheSameDigest) {
    Hasher hasher = hasher_with_key('k');
    EXPECT_TRUE(digest_equal(hasher.keyed_hash("login:abc", "123456"),
                             hasher.keyed_hash("login:abc", "123456")));
}

TEST(Hasher, ACodeForOneLoginDoesNotMatchAnotherLogin) {
    Hasher hasher = hasher_with_key('k');
    EXPECT_FALSE(digest_equal(hasher.keyed_hash("login:abc", "123456"),
                              hasher.keyed_hash("login:abd", "123456")));
    EXPECT_FALSE(digest_equal(hasher.keyed_hash("login:abc", "123456"),
                              hasher.keyed_hash("confirm:taro:phone", "123456")));
}

TEST(Hasher, ContextAndValueCannotBeShiftedIntoEachOther) {
    Hasher hasher = hasher_with_key('k');
    EXPECT_FALSE(digest_equal(hasher.keyed_hash("ab", "c"), hasher.keyed_hash("a", "bc")));
}

TEST(Hasher, AnotherKeyGivesAnotherDigest) {
    EXPECT_FALSE(digest_equal(hasher_with_key('k').keyed_hash("login:abc", "123456"),
                              hasher_with_key('K').keyed_hash("login:abc", "123456")));
}

TEST(Hasher, DifferentValuesGiveDifferentDigests) {
    Hasher hasher = hasher_with_key('k');
    EXPECT_FALSE(digest_equal(hasher.keyed_hash("login:abc", "123456"),
                              hasher.keyed_hash("login:abc", "123457")));
}

TEST(Hasher, KeyedHexIs64LowerCaseHexDigitsOfTheDigest) {
    Hasher hasher = hasher_with_key('k');
    std::string hex = hasher.keyed_hex("destination", "+819012345678");
    ASSERT_EQ(hex.size(), 64u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    Digest digest = hasher.keyed_hash("destination", "+819012345678");
    static constexpr char kHex[] = "0123456789abcdef";
    EXPECT_EQ(hex.substr(0, 2), (std::string{kHex[digest[0] >> 4], kHex[digest[0] & 0xf]}));
    EXPECT_EQ(hex.find("819012345678"), std::string::npos);
}

TEST(Hasher, IsHmacSha256OfContextNulValue) {
    // Pins the construction, so stored digests stay valid across releases.
    const std::string key = "Jefe";
    const std::string message(
        "login:abc\0"
        "123456",
        16);
    Digest expected{};
    unsigned int length = 0;
    ASSERT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                   reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                   expected.data(), &length),
              nullptr);
    ASSERT_EQ(length, expected.size());
    Hasher jefe{SecretString(key)};
    EXPECT_TRUE(digest_equal(jefe.keyed_hash("login:abc", "123456"), expected));
}

TEST(Hasher, RepeatedCallsAndCopiesGiveTheSameDigest) {
    // Each hash starts from the keyed state made once: none may leave it changed.
    Hasher hasher = hasher_with_key('k');
    Digest first = hasher.keyed_hash("login:1", "123456");
    (void)hasher.keyed_hash("login:2", "654321");
    Hasher copy = hasher;
    EXPECT_TRUE(digest_equal(hasher.keyed_hash("login:1", "123456"), first));
    EXPECT_TRUE(digest_equal(copy.keyed_hash("login:1", "123456"), first));
    EXPECT_TRUE(digest_equal(hasher_with_key('k').keyed_hash("login:1", "123456"), first));
}

TEST(DigestEqual, ComparesEveryByte) {
    Digest a{};
    Digest b{};
    EXPECT_TRUE(digest_equal(a, b));
    b.back() = 1;
    EXPECT_FALSE(digest_equal(a, b));
    b.back() = 0;
    b.front() = 0x80;
    EXPECT_FALSE(digest_equal(a, b));
}

// ---- Key file ---------------------------------------------------------------------------

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

void write_key_file(const std::string& path, size_t size, mode_t mode) {
    std::ofstream(path, std::ios::binary) << std::string(size, 'x');
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

void expect_refused(const std::string& path, const std::string& why) {
    ScriptedRandom random({});
    try {
        (void)load_or_create_key(path, random);
        ADD_FAILURE() << "key file accepted: " << why;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::Internal) << why;
    }
}

TEST(LoadOrCreateKey, CreatesA32ByteKeyReadableOnlyByItsOwner) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    SeededRandom random;
    SecretString key = load_or_create_key(path, random);
    EXPECT_EQ(key.size(), 32u);
    EXPECT_EQ(file_bytes(path), std::string(key.view()));
    EXPECT_EQ(mode_of(path), 0600u);
    EXPECT_FALSE(fs::exists(path + ".new"));
}

TEST(LoadOrCreateKey, ReadsTheSameKeyBackWithoutDrawingANewOne) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    SeededRandom first_random;
    SecretString created = load_or_create_key(path, first_random);
    ScriptedRandom second_random({}, 0x42);
    SecretString loaded = load_or_create_key(path, second_random);
    EXPECT_EQ(loaded.view(), created.view());
    EXPECT_EQ(second_random.calls(), 0u);
}

TEST(LoadOrCreateKey, RefusesAKeyFileReadableByOthers) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    write_key_file(path, 32, 0644);
    expect_refused(path, "mode 0644");
}

TEST(LoadOrCreateKey, RefusesAKeyFileReadableByItsGroup) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    write_key_file(path, 32, 0640);
    expect_refused(path, "mode 0640");
}

TEST(LoadOrCreateKey, RefusesAKeyFileOfTheWrongSize) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    write_key_file(path, 16, 0600);
    expect_refused(path, "16 bytes");
}

TEST(LoadOrCreateKey, RefusesASymlink) {
    TempDir dir;
    std::string target = dir.file("elsewhere.key");
    write_key_file(target, 32, 0600);
    std::string path = dir.file("daemon.key");
    fs::create_symlink(target, path);
    expect_refused(path, "a symlink");
}

TEST(LoadOrCreateKey, RefusesAKeyFileWithAnotherName) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    write_key_file(path, 32, 0600);
    fs::create_hard_link(path, dir.file("copy.key"));
    expect_refused(path, "a hard link");
}

// open() of a FIFO for reading waits for a writer: the start must not hang on one.
TEST(LoadOrCreateKey, RefusesAFifoAtOnce) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    expect_refused(path, "a FIFO");
}

TEST(LoadOrCreateKey, RefusesADirectory) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    fs::create_directory(path);
    ::chmod(path.c_str(), 0700);
    expect_refused(path, "a directory");
}

// A key.new left by a crash may carry a looser mode; the new key must not inherit it
// (it would be renamed into place world-readable and refused at the next start).
TEST(LoadOrCreateKey, CreatesTheKeyWithMode0600EvenOverALeftoverTemporaryFile) {
    TempDir dir;
    std::string path = dir.file("daemon.key");
    write_key_file(path + ".new", 3, 0644);
    SeededRandom random;
    SecretString key = load_or_create_key(path, random);
    EXPECT_EQ(mode_of(path), 0600u);
    ScriptedRandom again({});
    EXPECT_NO_THROW((void)load_or_create_key(path, again));
}

// ---- looks_like_code --------------------------------------------------------------------

TEST(LooksLikeCode, AcceptsOnlyDigitsOfTheExactLength) {
    EXPECT_TRUE(looks_like_code("123456", 6));
    EXPECT_TRUE(looks_like_code("0000000000", 10));
    EXPECT_FALSE(looks_like_code("12345", 6));
    EXPECT_FALSE(looks_like_code("1234567", 6));
    EXPECT_FALSE(looks_like_code("", 6));
    EXPECT_FALSE(looks_like_code("12345a", 6));
    EXPECT_FALSE(looks_like_code(" 12345", 6));
    EXPECT_FALSE(looks_like_code("+12345", 6));
    EXPECT_FALSE(looks_like_code("-12345", 6));
    EXPECT_FALSE(looks_like_code(std::string_view("12345\0", 6), 6));
    EXPECT_FALSE(looks_like_code("\xef\xbc\x91\xef\xbc\x92", 6));  // fullwidth "１２"
}

}  // namespace
}  // namespace lwauth
