// The error messages with values in them that lwauthd sends over the bus to lwauthctl.
//
// lwauthd's D-Bus error messages are English (lwauthctl's locale is not on the bus).
// A fixed one is marked N_() where lwauthd throws it, and lwauthctl looks it up as it
// arrives. One with a value in it (a user name, a number of tries) is written from a
// pattern of this table: lwauthd fills it in English (bus_text), and lwauthctl finds the
// pattern that the message matches (match_bus_text), then fills the same values into the
// pattern's translation. Both sides read this one table, so they cannot drift apart, and
// the bus contract stays as it was (an older lwauthctl shows the English).
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/i18n.hpp"

/// Marks a counted line (singular, plural) for xgettext where it is written.
#define NN_(singular, plural) singular, plural

namespace lwauth {

/// A pattern of an error message; `plural` is set when the first value counts things.
/// Compare patterns by their text: a literal's address may differ from one translation
/// unit to another.
struct BusText {
    const char* singular;
    const char* plural = nullptr;
};

namespace bus_texts {
// TRANSLATORS: %s is a user name.
inline constexpr BusText kNoSuchUser{N_("there is no user '%s' on this host")};
// TRANSLATORS: %s is the number of tries left.
inline constexpr BusText kWrongCode{NN_("wrong code; %s try left", "wrong code; %s tries left")};
// TRANSLATORS: %s is a user name.
inline constexpr BusText kNoAdminPhone{
    N_("user '%s' has no phone set by an administrator (a number the user added is theirs: "
       "use admin reset to clear it)")};
// TRANSLATORS: %s is a user name.
inline constexpr BusText kNoAdminEmail{
    N_("user '%s' has no email set by an administrator (an address the user added is theirs: "
       "use admin reset to clear it)")};
// TRANSLATORS: %s is a user name; "send-capped" is the name of a log event.
inline constexpr BusText kTestSendCapped{
    N_("a send cap of %s's login codes is reached, so nothing was sent (see the send-capped "
       "event in lwauthd's log)")};
// TRANSLATORS: %1$s is a user name, %2$s and %3$s numbers; "send-capped" is the name of a
// log event.
inline constexpr BusText kTestSendBudget{
    N_("the test message budget is reached (%2$s an hour to %1$s, %3$s an hour from each "
       "administrator), so nothing was sent (see the send-capped event in lwauthd's log)")};
// TRANSLATORS: %s is a user name.
inline constexpr BusText kTestSendNoContact{
    N_("user '%s' has no verified phone number or email address, and no notification "
       "channel serves the user")};
// TRANSLATORS: %s is a user name; "[code] channels" is a key of lwauth.conf.
inline constexpr BusText kTestSendNoChannel{
    N_("no channel in [code] channels serves the contacts of '%s'")};

inline constexpr BusText kAll[] = {kNoSuchUser,       kWrongCode,      kNoAdminPhone,
                                   kNoAdminEmail,     kTestSendCapped, kTestSendNoContact,
                                   kTestSendNoChannel, kTestSendBudget};
}  // namespace bus_texts

/// The English message of `text` with `args` (lwauthd's side). A counted text counts
/// its first argument, `n`.
[[nodiscard]] std::string bus_text(const BusText& text,
                                   std::initializer_list<std::string_view> args,
                                   unsigned long n = 0);

/// The pattern of bus_texts::kAll that `message` was written from, and its values in the
/// pattern's order (%1$s, %2$s...).
struct BusTextMatch {
    const BusText* text = nullptr;
    std::vector<std::string> args;
};
/// lwauthctl's side: nullopt when `message` matches no pattern.
[[nodiscard]] std::optional<BusTextMatch> match_bus_text(std::string_view message);

}  // namespace lwauth
