// The structured values of the D-Bus contract (bus_names.hpp), encoded and decoded in
// one place for pam_lwauth.so, lwauthd and lwauthctl: Login.Start's context a{sv}, the
// login step (kStepSignature) and the account status a{sv} (Account.Status,
// Admin.ShowUser, Admin.ListUsers).
//
// Both directions check what they handle: a value that breaks the contract (a step that
// neither asks nor decides, or both; an unknown message type; a wrong signature; a status
// without a required key or with a key of the wrong type) throws Error(Errc::Internal)
// saying what is wrong, and a decoder never reads past what the message holds. Status
// keys a decoder does not know are skipped, so an older lwauthctl reads a newer lwauthd.
//
// The context (context_codec.cpp), the step (step_codec.cpp) and the status
// (status_codec.cpp) are separate objects of liblwauth-common so that the module, which
// writes contexts and reads steps only, links no status code.
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lwauth/bus_names.hpp"

namespace lwauth {

/// What Login.Start's context a{sv} carries (the kContext* keys), the PAM items as the
/// module read them ("" when the application set none).
struct StartContext {
    std::string user;
    std::string service;
    std::string rhost;
    std::string tty;
    std::string mode;                 // kModePrimary | kModeSecondFactor
    uint64_t reply_timeout_usec = 0;  // the caller's wait for each reply; 0: not said
    bool session_remote = false;      // the caller's logind session is remote
    std::string locale{};             // the PAM session's locale name; "": none set

    bool operator==(const StartContext&) const = default;
};

/// One turn of a login, as Start and Answer return it.
struct Step {
    // The login's handle; once a verdict is set, empty, or for a success or ignore the
    // handle that Confirm takes (a full login waiting for the stack's result).
    std::string id;
    std::vector<std::pair<std::string, std::string>>
        messages;        // (kMessageInfo|kMessageError, text), shown first
    std::string prompt;  // what to ask; empty once a verdict is set
    bool echo = false;
    std::string verdict;  // bus::kVerdict*; kVerdictContinue while the login goes on

    void info(std::string text) { messages.emplace_back(bus::kMessageInfo, std::move(text)); }
    void error(std::string text) { messages.emplace_back(bus::kMessageError, std::move(text)); }
    [[nodiscard]] bool finished() const { return !verdict.empty(); }

    static Step ask(std::string prompt_text, bool echo_answer = false) {
        Step s;
        s.prompt = std::move(prompt_text);
        s.echo = echo_answer;
        return s;
    }
    static Step verdict_of(const char* v) {
        Step s;
        s.verdict = v;
        return s;
    }

    bool operator==(const Step&) const = default;
};

namespace bus {

/// Appends `step` to a reply of Start or Answer. Throws Error(Internal) when the step
/// breaks the contract: it must either ask (id and prompt set, no verdict) or decide
/// (verdict set, no prompt, no id but a success's or ignore's handle for Confirm), and
/// each message type must be info or error.
void append_step(sd_bus_message* m, const Step& step);

/// Reads a reply of Start or Answer. Throws Error(Internal) when its signature is not
/// kStepSignature or the step breaks the contract as append_step says. A verdict the
/// reader does not know passes: the caller maps it (the module fails closed).
[[nodiscard]] Step read_step(sd_bus_message* m);

/// Appends `context` as Start's a{sv}: every key, the strings even when empty.
void append_start_context(sd_bus_message* m, const StartContext& context);

/// Reads Start's a{sv}. Keys it does not know are skipped (a newer module may send
/// more); a known key with a value of another type throws Error(InvalidArgument), as
/// does a message that is not an a{sv}: the caller sent it.
[[nodiscard]] StartContext read_start_context(sd_bus_message* m);

/// A remembered place in a status (remembered_hosts, a(sst)).
struct StatusPlace {
    std::string service;
    std::string origin;  // the remote host, or "local:" and the terminal
    uint64_t until = 0;  // epoch seconds

    bool operator==(const StatusPlace&) const = default;
};

/// One kind of contact in a status (the keys KIND, KIND_source, pending_KIND,
/// profile_KIND); every value masked, empty when the key is absent.
struct StatusContact {
    std::string login;    // the login contact
    std::string source;   // self | profile | admin
    std::string pending;  // awaiting its confirmation code
    std::string profile;  // the administrator's profile value

    bool operator==(const StatusContact&) const = default;
};

/// The a{sv} of Account.Status, Admin.ShowUser and each element of Admin.ListUsers, as
/// bus_names.hpp documents it. user, two_step, two_step_policy, contacts_policy, methods,
/// line_linked, pin_set and locked_until are always sent; an empty string, an empty
/// remembered_hosts, a zero pin_until, enroll_grace_until or recovery_codes and a false
/// pin_disabled or totp_set are left out.
struct Status {
    std::string user;
    bool two_step = false;  // in effect for the user's logins
    std::string two_step_policy;
    std::string contacts_policy;
    std::string admin_contact;
    std::vector<std::string> methods;
    std::map<std::string, StatusContact> contacts;  // by kind: kContactPhone, kContactEmail
    bool line_linked = false;
    bool pin_set = false;
    uint64_t pin_until = 0;     // epoch seconds: the end of quick login with the PIN, 0: no PIN
    bool pin_disabled = false;  // too many wrong PINs: disabled until the next full login
    uint64_t locked_until = 0;  // epoch seconds, 0 when not locked
    std::vector<StatusPlace> remembered_hosts;
    uint64_t enroll_grace_until = 0;  // epoch seconds, 0 when none
    bool totp_set = false;            // an authenticator app is set up (sent true only)
    uint64_t recovery_codes = 0;      // recovery codes left (sent when not 0)

    bool operator==(const Status&) const = default;
};

/// Appends `status` as an a{sv}. Throws Error(Internal) for a contact kind the contract
/// does not name.
void append_status(sd_bus_message* m, const Status& status);

/// Appends `statuses` as an aa{sv} (Admin.ListUsers).
void append_status_list(sd_bus_message* m, const std::vector<Status>& statuses);

/// Reads an a{sv} status. Throws Error(Internal) when it is not an a{sv}, lacks a
/// required key, or holds a known key with a value of another type; unknown keys are
/// skipped.
[[nodiscard]] Status read_status(sd_bus_message* m);

/// Reads an aa{sv} (Admin.ListUsers), each element as read_status does.
[[nodiscard]] std::vector<Status> read_status_list(sd_bus_message* m);

}  // namespace bus
}  // namespace lwauth
