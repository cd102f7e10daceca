// Who a service notification goes to on a messenger (LINE WORKS, LINE): the user's ID
// there, from the channel's policy keys
//
//   user_id = TEMPLATE      `{user}` stands for the lwauth user name ("{user}@example.com")
//   user_map_file = PATH    lines "USER ID"; blank lines and lines starting with # are skipped
//
// A user in the map file gets the ID written there. Anyone else gets the template, which
// is "{user}" when there is no map file and no user_id; with a map file and no user_id,
// a user not in the map has no ID on the messenger and the channel does not serve them.
// The IDs are never logged: which messenger account belongs to whom stays between the
// administrator's file and the messenger.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "lwauth/policy.hpp"

namespace lwauth {

class MessengerIds {
  public:
    /// Throws Error(Internal) naming the file and line when the map cannot be read.
    explicit MessengerIds(const policy::ChannelConfig& config);

    /// The user's ID on the messenger, or nullopt when there is none.
    [[nodiscard]] std::optional<std::string> id_for(const std::string& user) const;

  private:
    std::string template_;  // empty: only the map serves
    std::map<std::string, std::string, std::less<>> map_;
};

/// Parses a user map file's text; `name` is used in errors. Throws Error(Internal).
[[nodiscard]] std::map<std::string, std::string, std::less<>> parse_user_map(
    std::string_view text, const std::string& name);

}  // namespace lwauth
