// Where lwauthd reads users' contacts under [directory] backend = ldap or lineworks. A
// Directory is blocking: lwauthd calls it on a thread of its own (directory_sync.hpp),
// never on the event loop, so that no login waits on the directory.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lwauth {

/// What the directory holds for one user. `found` is false when the directory names
/// nobody for the user (no entry, an ambiguous one, an unknown user).
struct DirectoryEntry {
    std::string user;
    bool found = false;
    std::optional<std::string> phone;
    std::optional<std::string> email;
};

class Directory {
  public:
    virtual ~Directory() = default;

    /// Looks every user up. Throws Error(Unavailable) saying why when the directory
    /// cannot answer for one of them: a pass either reads every user or changes nothing.
    [[nodiscard]] virtual std::vector<DirectoryEntry> lookup(const std::vector<std::string>& users) = 0;
};

}  // namespace lwauth
