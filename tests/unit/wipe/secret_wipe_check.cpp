// SecretString and CopyableSecret wipe their buffer before it is freed. This program
// replaces the global array allocation functions ([replacement.functions]), which is
// defined behaviour: while a test watches, operator delete[] copies out the bytes of each
// block it frees, so the test reads what was left in the heap without touching freed
// memory. It is a program of its own so that no other test runs under the replacement.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "lwauth/secret.hpp"

namespace {

constexpr size_t kMaxBlocks = 16;
constexpr size_t kMaxCopied = 256;

struct Block {
    void* at = nullptr;
    size_t size = 0;
};

// Fixed storage: the hooks must not allocate.
struct Watch {
    bool on = false;
    std::array<Block, kMaxBlocks> live{};
    std::array<std::array<unsigned char, kMaxCopied>, kMaxBlocks> freed{};
    std::array<size_t, kMaxBlocks> freed_size{};
    size_t freed_count = 0;
};

Watch& watch() {
    static Watch w;
    return w;
}

void* allocate(size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    Watch& w = watch();
    if (w.on) {
        for (Block& b : w.live) {
            if (b.at == nullptr) {
                b = {p, size};
                break;
            }
        }
    }
    return p;
}

void release(void* p) noexcept {
    Watch& w = watch();
    if (w.on && p != nullptr) {
        for (Block& b : w.live) {
            if (b.at == p) {
                if (w.freed_count < kMaxBlocks) {
                    size_t n = std::min(b.size, kMaxCopied);
                    std::memcpy(w.freed[w.freed_count].data(), p, n);
                    w.freed_size[w.freed_count] = n;
                    ++w.freed_count;
                }
                b = {};
                break;
            }
        }
    }
    std::free(p);
}

// Watches the array allocations of its scope.
class Watching {
  public:
    Watching() {
        watch() = Watch{};
        watch().on = true;
    }
    ~Watching() { watch().on = false; }
    Watching(const Watching&) = delete;
    Watching& operator=(const Watching&) = delete;
};

// What was left in the blocks freed while watching: whether any still holds `text`, and
// whether every byte of every one was zero.
bool any_freed_holds(std::string_view text) {
    const Watch& w = watch();
    for (size_t i = 0; i < w.freed_count; ++i) {
        std::string_view left(reinterpret_cast<const char*>(w.freed[i].data()), w.freed_size[i]);
        if (left.find(text) != std::string_view::npos) {
            return true;
        }
    }
    return false;
}

bool all_freed_zero() {
    const Watch& w = watch();
    for (size_t i = 0; i < w.freed_count; ++i) {
        for (size_t j = 0; j < w.freed_size[i]; ++j) {
            if (w.freed[i][j] != 0) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

void* operator new[](size_t size) {
    return allocate(size);
}
void operator delete[](void* p) noexcept {
    release(p);
}
void operator delete[](void* p, size_t) noexcept {
    release(p);
}

namespace lwauth {
namespace {

const std::string kSecret = "JBSWY3DPEHPK3PXP an authenticator secret";

TEST(SecretString, WipesItsBufferBeforeItIsFreed) {
    {
        Watching watching;
        SecretString secret(kSecret);
        ASSERT_EQ(secret.view(), kSecret);
    }
    ASSERT_EQ(watch().freed_count, 1U) << "the buffer was watched";
    EXPECT_EQ(watch().freed_size[0], kSecret.size() + 1);
    EXPECT_TRUE(all_freed_zero());
    EXPECT_FALSE(any_freed_holds("JBSWY3DP"));
}

TEST(SecretString, WipesTheValueItHeldWhenAnotherIsMovedIn) {
    {
        Watching watching;
        SecretString secret(kSecret);
        secret = SecretString(std::string_view("other"));
        EXPECT_EQ(secret.view(), "other");
    }
    EXPECT_EQ(watch().freed_count, 2U);
    EXPECT_TRUE(all_freed_zero());
}

TEST(CopyableSecret, EveryCopyIsABufferOfItsOwnAndIsWiped) {
    {
        Watching watching;
        CopyableSecret first(kSecret);
        CopyableSecret copy(first);  // NOLINT(performance-unnecessary-copy-initialization)
        CopyableSecret assigned;
        assigned = first;
        EXPECT_NE(copy.c_str(), first.c_str());
        EXPECT_EQ(copy.view(), kSecret);
        EXPECT_EQ(assigned.view(), kSecret);
    }
    EXPECT_EQ(watch().freed_count, 3U);
    EXPECT_TRUE(all_freed_zero());
    EXPECT_FALSE(any_freed_holds("JBSWY3DP"));
}

// The watch itself sees a buffer that is freed unwiped, so that the tests above can fail.
TEST(Watch, SeesWhatAPlainBufferLeaves) {
    {
        Watching watching;
        // Called as functions, which the compiler may not leave out as it may a new-expression.
        void* plain = ::operator new[](kSecret.size());
        std::memcpy(plain, kSecret.data(), kSecret.size());
        ::operator delete[](plain);
    }
    EXPECT_TRUE(any_freed_holds("JBSWY3DP"));
}

}  // namespace
}  // namespace lwauth
