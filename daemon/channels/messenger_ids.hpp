// Who a service notification goes to on a messenger (LINE WORKS, LINE): the user's ID
// there, from the channel's policy keys
//
//   user_id = TEMPLATE      `{user}` stands for the lwauth user name ("{user}@example.com")
//   user_map_file = PATH    lines "USER ID"; blank lines and lines starting with # are skipped
//
// A user in the map file gets the ID written there. Anyone else gets the template; with
// no user_id, a user not in the map has no ID on the messenger and the channel does not
// serve them. The user name itself is never an ID: LINE issues its own user IDs, and LINE
// WORKS takes its user ID or a login ID (name@domain); the policy loader refuses a channel
// with neither key or with a template that cannot give such an ID.
//
// An ID of the wrong form for the messenger (a mistake in the map file, or a user name
// that does not fit the template) is not sent: the service would refuse it, or worse,
// take it for someone else's. The IDs are never logged: which messenger account belongs
// to whom stays between the administrator's file and the messenger.
#pragma once

#include <map>
#include <string>

#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"

namespace lwauth {

/// The IDs a messenger takes.
struct MessengerIdForm {
    std::string_view id_name;  // "LINE user ID", for "the user has no LINE user ID"
    std::string_view form;     // "a LINE user ID (U and 32 hex digits)"
    bool (*valid)(std::string_view id);
};
extern const MessengerIdForm kLineIdForm;
extern const MessengerIdForm kLineWorksIdForm;

class MessengerIds {
  public:
    /// Throws Error(Internal) naming the file and line when the map cannot be read.
    MessengerIds(const policy::ChannelConfig& config, const MessengerIdForm& form);

    /// The user's ID on the messenger if there is one of the messenger's form, else
    /// Error(DeliveryFailed) saying why not, without the ID.
    [[nodiscard]] Result<std::string> lookup(const std::string& user) const;

  private:
    const MessengerIdForm& form_;
    std::string template_;  // empty: only the map serves
    std::map<std::string, std::string, std::less<>> map_;
};

/// Parses a user map file's text; `name` is used in errors. Throws Error(Internal).
[[nodiscard]] std::map<std::string, std::string, std::less<>> parse_user_map(
    std::string_view text, const std::string& name);

}  // namespace lwauth
