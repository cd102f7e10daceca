// Who is who: user names from UIDs and group membership, through NSS.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lwauth/files.hpp"

namespace lwauth {

/// The system user (and group) lwauthd runs as under the shipped unit
/// (packaging/systemd/lwauthd.service, packaging/sysusers/lwauth.conf).
inline constexpr const char* kDaemonUser = "lwauth";

/// The reader of secret files lwauthd will be: the kDaemonUser account with its primary
/// group, or root when the host has no such account (lwauthd run as root). lwauthctl checks
/// a policy's secret files as that lwauthd would.
[[nodiscard]] SecretReader installed_daemon_reader();

// Growing buffers for NSS lookups, as systemd's user-util does: a directory group of
// thousands of members does not fit a fixed 16 KiB, and its lookup would fail with ERANGE.
namespace nss {

inline constexpr size_t kFirstBuffer = 16 * 1024;
inline constexpr size_t kMaxBuffer = 16 * 1024 * 1024;
inline constexpr size_t kFirstGroups = 64;
inline constexpr size_t kMaxGroups = 65536;  // NGROUPS_MAX on Linux

/// Runs a getpwnam_r-style `lookup(data, size)` on `buffer` (kFirstBuffer bytes when
/// empty), doubling it while the lookup answers ERANGE, up to `max_size`. Returns the
/// lookup's last answer (errno's value for an answer of -1): ERANGE still when even
/// `max_size` bytes were too few.
int lookup_growing(std::vector<char>& buffer, const std::function<int(char*, size_t)>& lookup,
                   size_t max_size = kMaxBuffer);

/// Runs a getgrouplist-style `list(groups, &count)` with a larger array while it answers
/// -1 (the size it asks for in `count`, else twice the last), up to kMaxGroups. Returns
/// the groups, or nullopt when they do not fit.
std::optional<std::vector<gid_t>> group_list_growing(const std::function<int(gid_t*, int*)>& list);

}  // namespace nss

class UserDirectory {
  public:
    virtual ~UserDirectory() = default;
    [[nodiscard]] virtual std::optional<std::string> name_of(uid_t uid) const = 0;
    /// Names of the groups the user is in (primary group included); empty if unknown,
    /// also when one of the groups cannot be read.
    [[nodiscard]] virtual std::vector<std::string> groups_of(const std::string& user) const = 0;
    /// Whether the host knows a user of this name.
    [[nodiscard]] virtual bool exists(const std::string& user) const = 0;
    /// The UID of a user name; nullopt when the host does not know it (or NSS failed).
    [[nodiscard]] virtual std::optional<uid_t> uid_of(const std::string& user) const = 0;
};

class SystemUserDirectory final : public UserDirectory {
  public:
    [[nodiscard]] std::optional<std::string> name_of(uid_t uid) const override;
    [[nodiscard]] std::vector<std::string> groups_of(const std::string& user) const override;
    [[nodiscard]] bool exists(const std::string& user) const override;
    [[nodiscard]] std::optional<uid_t> uid_of(const std::string& user) const override;
};

}  // namespace lwauth
