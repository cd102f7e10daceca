// Reading users' phone numbers and email addresses from an LDAP directory ([directory]
// backend = ldap) with libldap. Blocking: lwauthd calls it on a thread of its own
// (directory_sync.hpp), never on the event loop, so that no login waits on the directory.
#pragma once

#include <string>
#include <vector>

#include "directory/directory.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

/// The filter of `filter_template` for `user`: each %u replaced by the user name escaped
/// per RFC 4515 section 3 (`*`, `(`, `)`, `\` and NUL as \2a, \28, \29, \5c, \00).
[[nodiscard]] std::string ldap_filter_for(const std::string& filter_template,
                                          const std::string& user);

/// One connection's worth of lookups. Throws Error(Unavailable) saying why when the
/// directory cannot be reached, StartTLS fails on an ldap:// URL, the server's certificate
/// is not signed by ldap_ca_file's CA (else libldap's) for the URL's host, the bind is
/// refused or a search fails: a pass either reads every user or changes nothing.
class LdapDirectory final : public Directory {
  public:
    LdapDirectory(policy::DirectoryPolicy config, SecretString password)
        : config_(std::move(config)), password_(std::move(password)) {}

    /// Looks every user up over one connection (StartTLS, bind, one search each).
    [[nodiscard]] std::vector<DirectoryEntry> lookup(const std::vector<std::string>& users) override;

  private:
    policy::DirectoryPolicy config_;
    SecretString password_;
};

}  // namespace lwauth
