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
    /// The first value is itself one of lwauthd's phrases (marked N_()), translated too.
    bool phrase_first = false;
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

// TRANSLATORS: %s is a number of seconds.
inline constexpr BusText kCodesRateLimitedSeconds{
    NN_("Too many codes were sent recently. The next code can be sent in %s second.",
        "Too many codes were sent recently. The next code can be sent in %s seconds.")};
// TRANSLATORS: %s is a number of minutes.
inline constexpr BusText kCodesRateLimitedMinutes{
    NN_("Too many codes were sent recently. The next code can be sent in %s minute.",
        "Too many codes were sent recently. The next code can be sent in %s minutes.")};
// TRANSLATORS: %s is how to reach the administrator, as lwauth.conf's admin_contact says.
inline constexpr BusText kManagedByAdmin{
    N_("your administrator manages phone numbers and email addresses on this host; to change "
       "yours, contact %s")};
// TRANSLATORS: %s is how to reach the administrator, as lwauth.conf's admin_contact says.
inline constexpr BusText kFromDirectory{
    N_("your phone number and email address come from the company directory; to change "
       "them, contact %s")};
// TRANSLATORS: %s is a user name; "[directory]" is a section of lwauth.conf.
inline constexpr BusText kAdminFromDirectory{
    N_("the contacts of '%s' come from the directory ([directory] in lwauth.conf); change "
       "them there")};
// TRANSLATORS: %s is how to reach the administrator, as lwauth.conf's admin_contact says.
inline constexpr BusText kLineNotSetUp{
    N_("LINE Login is not set up in lwauthd here; ask your administrator (%s)")};
// TRANSLATORS: %s is a change, such as "adding a phone number" or "linking LINE".
inline constexpr BusText kReauthRequired{
    N_("%s needs proof that it is you: confirm with a code sent to your verified phone number or "
       "email address first"),
    nullptr, true};
// TRANSLATORS: %s is a change, such as "adding a phone number" or "linking LINE".
inline constexpr BusText kReauthRequiredUnsent{
    N_("%s needs proof that it is you: confirm with your authenticator app, a recovery code or "
       "a code sent to you first"),
    nullptr, true};
// TRANSLATORS: %s is a change, such as "adding a phone number" or "linking LINE".
inline constexpr BusText kReauthUnreachable{
    N_("%s needs a code to your verified phone number or email address, and no channel on this "
       "host reaches them; ask your administrator"),
    nullptr, true};
// TRANSLATORS: %1$s is a change, such as "adding a phone number" or "linking LINE"; %2$s is
// how to reach the administrator, as lwauth.conf's admin_contact says.
inline constexpr BusText kReauthUnreachableContact{
    N_("%1$s needs a code to your verified phone number or email address, and no channel on "
       "this host reaches them; ask your administrator (%2$s)"),
    nullptr, true};
// TRANSLATORS: %s is a number of minutes (10).
inline constexpr BusText kPinWindowReauth{
    N_("setting a PIN needs a full login on this host in the last %s minutes, or proof that it "
       "is you: confirm with a code sent to your verified phone number or email address first")};
// TRANSLATORS: %s is a number of minutes (10).
inline constexpr BusText kPinWindowReauthUnsent{
    N_("setting a PIN needs a full login on this host in the last %s minutes, or proof that it "
       "is you: confirm with your authenticator app, a recovery code or a code sent to you "
       "first")};
// TRANSLATORS: %s is a number of minutes (10), twice.
inline constexpr BusText kPinWindowLogin{
    N_("setting a PIN needs a full login on this host in the last %1$s minutes: log in again "
       "with your password, then set the PIN within %1$s minutes")};
// TRANSLATORS: %s is a number of digits.
inline constexpr BusText kPinTooShort{
    NN_("A PIN needs at least %s digit.", "A PIN needs at least %s digits.")};
// TRANSLATORS: %s is a number of digits.
inline constexpr BusText kPinTooLong{
    NN_("A PIN may have at most %s digit.", "A PIN may have at most %s digits.")};
// TRANSLATORS: %s is a numeric user ID.
inline constexpr BusText kNoUserName{N_("user ID %s has no user name on this host")};

inline constexpr BusText kAll[] = {kNoSuchUser,
                                   kWrongCode,
                                   kNoAdminPhone,
                                   kNoAdminEmail,
                                   kTestSendCapped,
                                   kTestSendNoContact,
                                   kTestSendNoChannel,
                                   kTestSendBudget,
                                   kCodesRateLimitedSeconds,
                                   kCodesRateLimitedMinutes,
                                   kManagedByAdmin,
                                   kFromDirectory,
                                   kAdminFromDirectory,
                                   kLineNotSetUp,
                                   kReauthRequired,
                                   kReauthRequiredUnsent,
                                   kReauthUnreachableContact,
                                   kReauthUnreachable,
                                   kPinWindowReauth,
                                   kPinWindowReauthUnsent,
                                   kPinWindowLogin,
                                   kPinTooShort,
                                   kPinTooLong,
                                   kNoUserName};
}  // namespace bus_texts

/// The English message of `text` with `args` (lwauthd's side). A counted text counts
/// its first argument, `n`.
[[nodiscard]] std::string bus_text(const BusText& text,
                                   std::initializer_list<std::string_view> args,
                                   unsigned long n = 0);
/// The same in `language`, for a line that lwauthd shows in a login as well.
[[nodiscard]] std::string bus_text(Language language, const BusText& text,
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
