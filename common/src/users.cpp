#include "lwauth/users.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace lwauth {

namespace nss {

int lookup_growing(std::vector<char>& buffer, const std::function<int(char*, size_t)>& lookup,
                   size_t max_size) {
    if (buffer.empty()) {
        buffer.resize(std::min(kFirstBuffer, max_size));
    }
    for (;;) {
        errno = 0;
        int r = lookup(buffer.data(), buffer.size());
        if (r == -1) {
            // POSIX has the error as the answer; nss_wrapper (1.1.12) answers -1 and sets
            // errno, as the non-reentrant functions do.
            r = errno != 0 ? errno : EIO;
        }
        if (r != ERANGE || buffer.size() >= max_size) {
            return r;
        }
        buffer.resize(std::min(buffer.size() * 2, max_size));
    }
}

std::optional<std::vector<gid_t>> group_list_growing(const std::function<int(gid_t*, int*)>& list) {
    std::vector<gid_t> gids(kFirstGroups);
    for (;;) {
        int count = static_cast<int>(gids.size());
        if (list(gids.data(), &count) >= 0) {
            gids.resize(static_cast<size_t>(std::max(count, 0)));
            return gids;
        }
        // -1: the array was too small. glibc says how large it must be in `count`; when
        // a module does not, doubling finds it.
        if (gids.size() >= kMaxGroups) {
            return std::nullopt;
        }
        size_t wanted =
            count > static_cast<int>(gids.size()) ? static_cast<size_t>(count) : gids.size() * 2;
        gids.resize(std::min(wanted, kMaxGroups));
    }
}

}  // namespace nss

namespace {

// getpwnam_r / getpwuid_r with a buffer that grows: nullopt when the user is unknown or
// NSS failed.
std::optional<struct passwd> passwd_entry(
    std::vector<char>& buffer,
    const std::function<int(struct passwd*, char*, size_t, struct passwd**)>& lookup) {
    struct passwd pw {};
    struct passwd* result = nullptr;
    int r = nss::lookup_growing(
        buffer, [&](char* data, size_t size) { return lookup(&pw, data, size, &result); });
    if (r != 0 || result == nullptr) {
        return std::nullopt;
    }
    return pw;
}

std::optional<struct passwd> passwd_by_name(const std::string& user, std::vector<char>& buffer) {
    return passwd_entry(buffer,
                        [&](struct passwd* pw, char* data, size_t size, struct passwd** result) {
                            return getpwnam_r(user.c_str(), pw, data, size, result);
                        });
}

// getgrgid_r(3): these answers, like 0 with no entry, mean "not found".
bool means_not_found(int r) {
    return r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

// The name of a group; "" when no group has this GID (a primary group missing from the
// group database), nullopt when NSS failed (a group too large even for the largest
// buffer included).
std::optional<std::string> group_name(gid_t gid, std::vector<char>& buffer) {
    struct group gr {};
    struct group* result = nullptr;
    int r = nss::lookup_growing(
        buffer, [&](char* data, size_t size) { return getgrgid_r(gid, &gr, data, size, &result); });
    if (r == 0 && result != nullptr) {
        return std::string(gr.gr_name);
    }
    if (r == 0 || means_not_found(r)) {
        return std::string();
    }
    return std::nullopt;
}

}  // namespace

SecretReader installed_daemon_reader() {
    std::vector<char> buffer;
    auto pw = passwd_by_name(kDaemonUser, buffer);
    return pw ? SecretReader{pw->pw_uid, pw->pw_gid} : SecretReader{0, 0};
}

std::optional<std::string> SystemUserDirectory::name_of(uid_t uid) const {
    std::vector<char> buffer;
    auto pw = passwd_entry(
        buffer, [&](struct passwd* entry, char* data, size_t size, struct passwd** result) {
            return getpwuid_r(uid, entry, data, size, result);
        });
    return pw ? std::optional<std::string>(pw->pw_name) : std::nullopt;
}

std::vector<std::string> SystemUserDirectory::groups_of(const std::string& user) const {
    std::vector<char> buffer;
    auto pw = passwd_by_name(user, buffer);
    if (!pw) {
        return {};
    }
    gid_t primary = pw->pw_gid;
    auto gids = nss::group_list_growing([&](gid_t* groups, int* count) {
        return getgrouplist(user.c_str(), primary, groups, count);
    });
    if (!gids) {
        return {};
    }
    std::vector<std::string> names;
    for (gid_t gid : *gids) {
        auto name = group_name(gid, buffer);
        if (!name) {
            // A group that could not be read may be the admin group: the user's groups
            // are unknown, not this one group fewer.
            return {};
        }
        if (!name->empty()) {
            names.push_back(std::move(*name));
        }
    }
    return names;
}

bool SystemUserDirectory::exists(const std::string& user) const {
    return uid_of(user).has_value();
}

std::optional<uid_t> SystemUserDirectory::uid_of(const std::string& user) const {
    std::vector<char> buffer;
    auto pw = passwd_by_name(user, buffer);
    return pw ? std::optional<uid_t>(pw->pw_uid) : std::nullopt;
}

}  // namespace lwauth
