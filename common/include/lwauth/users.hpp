// Who is who: user names from UIDs and group membership, through NSS.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace lwauth {

class UserDirectory {
  public:
    virtual ~UserDirectory() = default;
    [[nodiscard]] virtual std::optional<std::string> name_of(uid_t uid) const = 0;
    /// Names of the groups the user is in (primary group included); empty if unknown.
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
