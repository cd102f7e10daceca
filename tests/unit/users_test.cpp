// The growing buffers of the NSS lookups, driven by lookups that behave as glibc's do for
// a directory group of thousands of members (ERANGE, or -1 from getgrouplist, until the
// buffer is large enough).
#include "lwauth/users.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace lwauth {
namespace {

// A getgrgid_r-style lookup whose entry needs `needed` bytes; records each size asked.
struct SizedLookup {
    size_t needed;
    std::vector<size_t> sizes;

    int operator()(char* data, size_t size) {
        sizes.push_back(size);
        if (size < needed) {
            return ERANGE;
        }
        std::memset(data, 'x', needed);
        return 0;
    }
};

TEST(NssLookup, DoublesTheBufferUntilTheEntryFits) {
    SizedLookup lookup{40000, {}};
    std::vector<char> buffer;
    EXPECT_EQ(nss::lookup_growing(buffer, std::ref(lookup)), 0);
    EXPECT_EQ(lookup.sizes, (std::vector<size_t>{16384, 32768, 65536}));
    EXPECT_EQ(buffer.size(), 65536U);
}

TEST(NssLookup, ALargeEntryFitsBelowTheBound) {
    // 2,000 members of about 20 bytes each, and a hundred thousand.
    for (size_t needed : {size_t{40000}, size_t{2000000}}) {
        SizedLookup lookup{needed, {}};
        std::vector<char> buffer;
        EXPECT_EQ(nss::lookup_growing(buffer, std::ref(lookup)), 0) << needed;
        EXPECT_GE(buffer.size(), needed);
    }
}

TEST(NssLookup, StopsAtTheBoundWithERANGE) {
    SizedLookup lookup{nss::kMaxBuffer + 1, {}};
    std::vector<char> buffer;
    EXPECT_EQ(nss::lookup_growing(buffer, std::ref(lookup)), ERANGE);
    EXPECT_EQ(lookup.sizes.back(), nss::kMaxBuffer);
    EXPECT_EQ(lookup.sizes.size(), 11U);  // 16 KiB doubled ten times is 16 MiB
}

TEST(NssLookup, OtherErrorsAreNotRetried) {
    int calls = 0;
    std::vector<char> buffer;
    EXPECT_EQ(nss::lookup_growing(buffer,
                                  [&](char*, size_t) {
                                      ++calls;
                                      return EIO;
                                  }),
              EIO);
    EXPECT_EQ(calls, 1);
}

TEST(NssLookup, AnswersOfMinusOneMeanErrno) {
    // nss_wrapper's getgrgid_r answers a buffer too small with -1 and errno ERANGE.
    SizedLookup sized{40000, {}};
    std::vector<char> buffer;
    EXPECT_EQ(nss::lookup_growing(buffer,
                                  [&](char* data, size_t size) {
                                      int r = sized(data, size);
                                      errno = r;
                                      return r == 0 ? 0 : -1;
                                  }),
              0);
    EXPECT_EQ(buffer.size(), 65536U);
}

TEST(NssLookup, KeepsABufferThatIsLargeEnoughAlready) {
    SizedLookup lookup{40000, {}};
    std::vector<char> buffer(65536);
    EXPECT_EQ(nss::lookup_growing(buffer, std::ref(lookup)), 0);
    EXPECT_EQ(lookup.sizes, (std::vector<size_t>{65536}));
}

// getgrouplist: -1 while the array is too small; glibc then sets `count` to the number
// of groups, some modules leave it.
auto group_list(int groups, bool says_how_many) {
    return [=](gid_t* out, int* count) {
        if (*count < groups) {
            if (says_how_many) {
                *count = groups;
            }
            return -1;
        }
        for (int i = 0; i < groups; ++i) {
            out[i] = static_cast<gid_t>(1000 + i);
        }
        *count = groups;
        return groups;
    };
}

TEST(NssGroupList, GrowsToTheCountGlibcAsksFor) {
    auto gids = nss::group_list_growing(group_list(2000, true));
    ASSERT_TRUE(gids.has_value());
    ASSERT_EQ(gids->size(), 2000U);
    EXPECT_EQ(gids->back(), 2999U);
}

TEST(NssGroupList, DoublesWhenTheModuleDoesNotSayHowMany) {
    auto gids = nss::group_list_growing(group_list(300, false));
    ASSERT_TRUE(gids.has_value());
    EXPECT_EQ(gids->size(), 300U);
}

TEST(NssGroupList, GivesUpBeyondTheKernelsLimit) {
    EXPECT_FALSE(nss::group_list_growing(group_list(70000, true)).has_value());
    EXPECT_FALSE(nss::group_list_growing(group_list(70000, false)).has_value());
}

TEST(NssGroupList, AFewGroupsNeedOneCall) {
    int calls = 0;
    auto gids = nss::group_list_growing([&](gid_t* out, int* count) {
        ++calls;
        return group_list(3, true)(out, count);
    });
    ASSERT_TRUE(gids.has_value());
    EXPECT_EQ(gids->size(), 3U);
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace lwauth
