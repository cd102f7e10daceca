// lwauthctl: manage your own lwauth login settings, and check the policy.
#include <langinfo.h>
#include <libintl.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gettext.hpp"
#include "lwauth/bus_codec.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/bus_texts.hpp"
#include "lwauth/error.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/qr.hpp"
#include "lwauth/sd_bus.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/users.hpp"
#include "policy_edit.hpp"

#ifndef LWAUTH_VERSION
#define LWAUTH_VERSION "unknown"
#endif
#ifndef LWAUTH_SYSCONFDIR
#define LWAUTH_SYSCONFDIR "/etc/lwauth"
#endif

namespace lwauth {
namespace {

// Exit codes (documented in lwauthctl(1)).
constexpr int kExitOk = 0;
// The exit statuses of errors are in the table of Errc (ctl_exit_status); a usage error is
// found before any error can be.
constexpr int kExitUsage = 2;
// line link's outcomes other than linked; Ctrl-C exits as a shell reports SIGINT.
constexpr int kExitLineRefused = 6;
constexpr int kExitLineExpired = 7;
constexpr int kExitLineFailed = 8;
constexpr int kExitInterrupted = 130;

using json = nlohmann::json;

struct Global {
    bool json_output = false;
    // The command line as the process got it, so that a code given on it can be blanked.
    int argc = 0;
    char** argv = nullptr;
};

class CommandError : public std::runtime_error {
  public:
    CommandError(Errc code, const std::string& message, std::string english = "")
        : std::runtime_error(message), code_(code), english_(std::move(english)) {}
    [[nodiscard]] Errc code() const { return code_; }
    [[nodiscard]] int exit_code() const { return ctl_exit_status(code_); }
    /// lwauthd's own message as it came on the bus (English), when it sent one.
    [[nodiscard]] const std::string& english() const { return english_; }

  private:
    Errc code_;
    std::string english_;
};

std::string sentence(std::string text) {
    if (!text.empty()) {
        text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
        // A Japanese sentence ends with its own full stop.
        if (text.back() != '.' && !text.ends_with("\u3002")) {
            text += '.';
        }
    }
    return text;
}

// lwauthd's message in this user's language when the catalog has it: a fixed message
// looked up as it is, one with values through the pattern it was written from
// (bus_texts.hpp).
std::string translated_message(const std::string& message) {
    if (message.empty()) {
        return message;  // "" would be the catalog's header
    }
    auto match = match_bus_text(message);
    if (!match) {
        return _(message.c_str());
    }
    const BusText& text = *match->text;
    unsigned long n = 0;
    if (text.plural != nullptr) {
        n = std::strtoul(match->args[0].c_str(), nullptr, 10);
    }
    if (text.phrase_first && !match->args.empty() && !match->args[0].empty()) {
        match->args[0] = _(match->args[0].c_str());
    }
    std::vector<std::string_view> args(match->args.begin(), match->args.end());
    return format_text(
        text.plural == nullptr ? _(text.singular) : ngettext(text.singular, text.plural, n), args);
}

// One clear sentence for every error the bus or lwauthd can answer.
[[noreturn]] void raise_bus_error(const BusError& error, int r) {
    if (!error.is_set()) {
        throw CommandError(Errc::Unavailable,
                           format_text(_("Cannot reach lwauthd on the system bus (%s). Is lwauthd "
                                         "running? Try: systemctl status lwauthd"),
                                       {errno_string(r)}));
    }
    Errc code = from_dbus_error(error.name());
    std::string detail = translated_message(error.message());
    switch (code) {
        case Errc::Unavailable:
            // lwauthd answered: it runs, and says what it cannot do now (too many LINE
            // approvals waiting, its disk full...). Only the bus's own errors mean that it
            // is not there.
            if (std::string_view(error.name()) == bus::kErrorUnavailable) {
                throw CommandError(code, sentence(detail));
            }
            throw CommandError(code, format_text(_("lwauthd is not running or not answering on "
                                                   "the system bus (%s). Try: systemctl status "
                                                   "lwauthd"),
                                                 {detail}));
        case Errc::AccessDenied:
            throw CommandError(code, format_text(_("Permission denied: %s"), {sentence(detail)}));
        case Errc::BadPolicy:
            throw CommandError(
                code,
                format_text(_("The policy was not reloaded because it has errors: %s"), {detail}));
        case Errc::Internal:
            throw CommandError(code, format_text(_("lwauthd failed: %s See: journalctl -u lwauthd"),
                                                 {sentence(detail)}));
        default:
            throw CommandError(code, sentence(detail), error.message());
    }
}

class Client {
  public:
    Client() {
        sd_bus* bus = nullptr;
        int r = sd_bus_open_system(&bus);
        if (r < 0) {
            raise_bus_error(BusError(), r);
        }
        bus_.reset(bus);
    }

    template <typename... Args>
    BusMessagePtr call(const char* interface, const char* method, const char* signature,
                       Args... args) {
        BusError error;
        sd_bus_message* reply = nullptr;
        int r = sd_bus_call_method(bus_.get(), bus::kServiceName, bus::kObjectPath, interface,
                                   method, error.get(), &reply, signature, args...);
        if (r < 0) {
            raise_bus_error(error, r);
        }
        return BusMessagePtr(reply);
    }

  private:
    BusPtr bus_;
};

// One user's settings (bus_names.hpp) as the JSON that --json prints: the keys of the
// a{sv}, those absent there left out.
json status_to_json(const bus::Status& s) {
    json out = {{"user", s.user},
                {"two_step", s.two_step},
                {"two_step_policy", s.two_step_policy},
                {"contacts_policy", s.contacts_policy},
                {"methods", s.methods},
                {"line_linked", s.line_linked},
                {"pin_set", s.pin_set},
                {"locked_until", s.locked_until}};
    auto add = [&](const std::string& key, const std::string& value) {
        if (!value.empty()) {
            out[key] = value;
        }
    };
    add("admin_contact", s.admin_contact);
    for (const auto& [kind, contact] : s.contacts) {
        add(kind, contact.login);
        add(kind + "_source", contact.source);
        add("pending_" + kind, contact.pending);
        add("profile_" + kind, contact.profile);
    }
    if (!s.remembered_hosts.empty()) {
        json places = json::array();
        for (const auto& place : s.remembered_hosts) {
            places.push_back(
                {{"service", place.service}, {"origin", place.origin}, {"until", place.until}});
        }
        out["remembered_hosts"] = places;
    }
    if (s.enroll_grace_until != 0) {
        out["enroll_grace_until"] = s.enroll_grace_until;
    }
    if (s.pin_until != 0) {
        out["pin_until"] = s.pin_until;
    }
    if (s.pin_disabled) {
        out["pin_disabled"] = true;
    }
    if (s.totp_set) {
        out["totp_set"] = true;
    }
    if (s.recovery_codes != 0) {
        out["recovery_codes"] = s.recovery_codes;
    }
    return out;
}

// Runs a codec's reader on a reply; a reply that breaks the contract is a failure.
template <typename Read>
auto read_reply(Read read, sd_bus_message* m) {
    try {
        return read(m);
    } catch (const Error& e) {
        // TRANSLATORS: %s says what was wrong with the reply (English, as the log has it).
        throw CommandError(Errc::Internal,
                           format_text(_("lwauthd sent a malformed reply (%s)"), {e.what()}));
    }
}

json read_vardict(sd_bus_message* m) {
    return status_to_json(read_reply(bus::read_status, m));
}

// Reads a reply of basic values (sd_bus_message_read's signature and pointers); a reply
// that breaks the contract is a failure.
template <typename... Out>
void read_values(const BusMessagePtr& reply, const char* signature, Out*... out) {
    if (sd_bus_message_read(reply.get(), signature, out...) < 0) {
        throw CommandError(Errc::Internal, _("lwauthd sent a malformed reply"));
    }
}

std::string local_time(uint64_t epoch) {
    std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
    return buf;
}

void print_result(const Global& g, const json& result, const std::string& human) {
    if (g.json_output) {
        std::cout << result.dump(2) << "\n";
    } else if (!human.empty()) {
        std::cout << human << "\n";
    }
}

const char* method_name(const std::string& method) {
    if (method == "two_step") {
        return _("2-step verification");
    }
    if (method == "login_with_phone") {
        return _("log in with phone number");
    }
    if (method == "login_with_line") {
        return _("log in with LINE");
    }
    if (method == "quick_login") {
        return _("quick login (PIN)");
    }
    if (method == "totp") {
        return _("authenticator app");
    }
    return "";
}

// A remembered place as a person reads it: "sshd from 192.0.2.7", "login on tty1".
std::string place_text(const json& place) {
    std::string service = place.value("service", "");
    std::string origin = place.value("origin", "");
    if (service.empty()) {
        service = _("a login");
    }
    if (!origin.starts_with("local:")) {
        // TRANSLATORS: "sshd from 192.0.2.7": a PAM service and a remote host.
        return format_text(_("%1$s from %2$s"), {service, origin});
    }
    std::string tty = origin.substr(6);
    if (tty.empty()) {
        return format_text(_("%s on this host"), {service});
    }
    // TRANSLATORS: "login on tty1": a PAM service and a terminal.
    return format_text(_("%1$s on %2$s"), {service, tty});
}

// The places where no code is asked ([policy] remember_host) and the enrolment grace.
void print_remembered(const json& s, bool own,
                      const std::function<void(const std::string&, const std::string&)>& row) {
    const json places = s.value("remembered_hosts", json::array());
    for (size_t i = 0; i < places.size(); ++i) {
        row(i == 0 ? _("Remembered") : "",
            format_text(_("%1$s until %2$s"), {place_text(places[i]),
                                               local_time(places[i].value("until", uint64_t{0}))}));
    }
    if (!places.empty()) {
        row("", format_text(_("(no code is asked there until then; %s ends it)"),
                            {own ? "lwauthctl forget"
                                 : "lwauthctl admin reset " + s.value("user", "USER") + " hosts"}));
    }
    uint64_t grace = s.value("enroll_grace_until", uint64_t{0});
    if (grace == 0) {
        return;
    }
    if (static_cast<int64_t>(grace) <= static_cast<int64_t>(std::time(nullptr))) {
        row(_("Enrolment grace"),
            format_text(_("ended on %s; logins are refused until a phone number or email "
                          "address is added"),
                        {local_time(grace)}));
        return;
    }
    std::string how = !own ? _("a phone number or email address must be added before then")
                      : s.value("contacts_policy", "") == "admin"
                          ? _("ask your administrator to add a phone number or email address "
                              "before then")
                          : _("add a phone number or email before then (lwauthctl contact add)");
    row(_("Enrolment grace"),
        format_text(_("no code is asked until %1$s; %2$s"), {local_time(grace), how}));
}

// Whether a PIN is set and until when quick login may use it.
std::string pin_text(const json& s, bool own) {
    if (!s.value("pin_set", false)) {
        return _("not set");
    }
    std::string again = own ? _("log in with your password to use it again")
                            : _("a login with the password makes it usable again");
    if (s.value("pin_disabled", false)) {
        return format_text(_("disabled after too many wrong PINs: %s"), {again});
    }
    uint64_t until = s.value("pin_until", uint64_t{0});
    if (static_cast<int64_t>(until) <= static_cast<int64_t>(std::time(nullptr))) {
        return format_text(_("set, expired on %1$s: %2$s"), {local_time(until), again});
    }
    return format_text(_("set, until %s"), {local_time(until)});
}

// One user's settings (Account.Status / Admin.ShowUser) as lines of "Label: value".
// `own` says whether they are the caller's own (the hints are for them).
void print_settings(const json& s, bool own) {
    auto str = [&](const std::string& key) {
        return s.contains(key) && s[key].is_string() ? s[key].get<std::string>() : std::string();
    };
    auto row = [](const std::string& label, const std::string& value) {
        std::printf("%-22s %s\n", label.empty() ? "" : (label + ":").c_str(), value.c_str());
    };
    row(_("User"), str("user"));
    std::vector<std::string> methods;
    for (const auto& m : s.value("methods", json::array())) {
        methods.push_back(method_name(m.get<std::string>()));
    }
    auto has_method = [&](const char* name) {
        for (const auto& m : s.value("methods", json::array())) {
            if (m == name) {
                return true;
            }
        }
        return false;
    };
    std::string offered;
    for (const auto& m : methods) {
        offered += (offered.empty() ? "" : ", ") + m;
    }
    row(_("Methods offered"), offered.empty() ? _("the password only") : offered);
    // TRANSLATORS: "on (policy: optional)"; the policy's word stays as lwauth.conf writes it.
    row(_("2-step verification"),
        format_text(_("%1$s (policy: %2$s)"),
                    {s.value("two_step", false) ? _("on") : _("off"), str("two_step_policy")}));
    for (const char* kind : {"phone", "email"}) {
        std::string k = kind;
        std::string value = str(k);
        std::string line = _("none");
        if (!value.empty()) {
            std::string source = str(k + "_source");
            line = format_text(source == "profile" ? _("%s (the profile's, verified)")
                               : source == "admin" ? _("%s (set by the administrator)")
                               : k == "phone"      ? _("%s (login-only number, verified)")
                                                   : _("%s (verified)"),
                               {value});
        }
        std::string pending = str("pending_" + k);
        if (!pending.empty()) {
            line += format_text(_("; %s is waiting for its confirmation code"), {pending});
        }
        row(k == "phone" ? _("Phone") : _("Email"), line);
        std::string profile = str("profile_" + k);
        if (!profile.empty()) {
            std::string hint;
            if (own && str(k + "_source") != "profile" && str("contacts_policy") == "self") {
                hint =
                    format_text(_(" (to log in with it: lwauthctl contact use-profile %s)"), {k});
            }
            row(k == "phone" ? _("Profile phone") : _("Profile email"), profile + hint);
        }
    }
    if (has_method("login_with_line") || s.value("line_linked", false)) {
        row("LINE", s.value("line_linked", false) ? _("linked") : _("not linked"));
    }
    if (has_method("quick_login") || s.value("pin_set", false)) {
        row(_("Quick-login PIN"), pin_text(s, own));
    }
    if (has_method("totp") || s.value("totp_set", false)) {
        row(_("Authenticator app"), s.value("totp_set", false) ? _("set up") : _("not set up"));
    }
    uint64_t recovery = s.value("recovery_codes", uint64_t{0});
    row(_("Recovery codes"), recovery == 0 ? std::string(_("none"))
                                           : format_text(_("%s left"), {std::to_string(recovery)}));
    if (str("contacts_policy") == "admin") {
        std::string who = str("admin_contact");
        row(_("Contacts"), who.empty()
                               ? _("managed by the administrator")
                               : format_text(_("managed by the administrator (%s)"), {who}));
    }
    uint64_t locked = s.value("locked_until", uint64_t{0});
    if (locked != 0) {
        row(_("Locked until"), format_text(_("%s (too many failed codes)"), {local_time(locked)}));
    }
    print_remembered(s, own, row);
}

int cmd_status(const Global& g) {
    Client client;
    auto reply = client.call(bus::kAccountInterface, bus::kAccountStatus, "");
    json s = read_vardict(reply.get());
    if (g.json_output) {
        std::cout << s.dump(2) << "\n";
        return kExitOk;
    }
    print_settings(s, true);
    return kExitOk;
}

// Reads a code from standard input, without echo on a terminal; `prompt` goes to stderr
// (on a terminal only). Returns nullopt at end of input.
std::optional<SecretString> read_code(const std::string& prompt) {
    bool tty = isatty(STDIN_FILENO) != 0;
    struct termios old {};
    if (tty) {
        std::fprintf(stderr, "%s", prompt.c_str());
        tcgetattr(STDIN_FILENO, &old);
        struct termios quiet = old;
        quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    ScopedWipe wipe(line);
    bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        std::fprintf(stderr, "\n");
    }
    if (!got) {
        return std::nullopt;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.pop_back();
    }
    return SecretString(line);
}

// A code given on the command line (contact confirm, totp confirm): any local user can read
// it in ps or /proc/PID/cmdline while lwauthctl runs, and the shell keeps it in its history.
// It is taken, for scripts, with a warning; lwauthctl blanks it from its own command line
// at once, which shortens the first exposure but cannot undo the history.
SecretString code_from_argument(const Global& g, std::string& argument) {
    std::fprintf(stderr, "lwauthctl: %s\n",
                 _("warning: a code on the command line can be seen by other users of this "
                   "host and stays in your shell's history; leave it out to type it when "
                   "asked, or give it on standard input."));
    for (int i = 1; i < g.argc; ++i) {
        if (argument == g.argv[i]) {
            secure_wipe(g.argv[i], argument.size());
        }
    }
    SecretString code(argument);
    wipe_string(argument);
    return code;
}

SecretString read_code_from_terminal(const std::string& kind) {
    auto code = read_code(kind == "phone" ? _("Confirmation code sent to your phone: ")
                                          : _("Confirmation code sent to your email: "));
    return code ? std::move(*code) : SecretString();
}

// What StartReauth accepts (bus::kReauthAccepts*), read after where the code went.
std::vector<std::string> read_accepts(const BusMessagePtr& reply) {
    std::vector<std::string> accepts;
    if (sd_bus_message_enter_container(reply.get(), 'a', "s") <= 0) {
        return {bus::kReauthAcceptsCode};  // an lwauthd before apps could step up: a code
    }
    const char* word = nullptr;
    while (sd_bus_message_read(reply.get(), "s", &word) > 0) {
        accepts.emplace_back(word);
    }
    sd_bus_message_exit_container(reply.get());
    return accepts;
}

// Tells the user what the step-up takes: the code sent, the app's code, a recovery code.
void tell_reauth(const std::string& shown, const std::vector<std::string>& accepts) {
    auto has = [&](const char* word) {
        return std::find(accepts.begin(), accepts.end(), word) != accepts.end();
    };
    bool code = has(bus::kReauthAcceptsCode) && !shown.empty();
    bool totp = has(bus::kReauthAcceptsTotp);
    std::string text;
    if (code && totp) {
        text = format_text(_("To confirm it is you, type the code from your authenticator app, "
                             "or the code that was sent to %s."),
                           {shown});
    } else if (code) {
        text = format_text(_("To confirm it is you, a code was sent to %s."), {shown});
    } else if (totp) {
        text = _("To confirm it is you, type the code from your authenticator app.");
    } else {
        text = _("To confirm it is you, type one of your recovery codes.");
    }
    if (has(bus::kReauthAcceptsRecovery) && (code || totp)) {
        text += " ";
        text += _("A recovery code is accepted too.");
    }
    if (has(bus::kReauthAcceptsSend)) {
        text += " ";
        text += _("Or type s to have a code sent to your verified phone number or email "
                  "address.");
    }
    std::fprintf(stderr, "%s\n", text.c_str());
}

// A change that weakens the login (2-step off, a contact removed or replaced) needs proof
// that it is the user (self_service_reauth = code): a second factor typed here (a code
// sent to a verified contact, the authenticator app's code, a recovery code) proves this
// bus connection, on which the change is then made. Never on the command line, where
// other users could read it.
void reauthenticate(Client& client) {
    // StartReauth, and again on "s" when it sent nothing (lwauthd then sends a code).
    std::vector<std::string> accepts;
    auto start = [&] {
        auto reply = client.call(bus::kAccountInterface, bus::kAccountStartReauth, "");
        const char* shown = nullptr;
        read_values(reply, "s", &shown);
        accepts = read_accepts(reply);
        tell_reauth(shown, accepts);
    };
    start();
    while (true) {
        auto code = read_code(_("Code: "));
        if (!code || code->empty()) {
            throw CommandError(Errc::ReauthRequired,
                               _("No code was entered; nothing was changed."));
        }
        if (code->view() == "s" && std::find(accepts.begin(), accepts.end(),
                                             bus::kReauthAcceptsSend) != accepts.end()) {
            start();
            continue;
        }
        try {
            client.call(bus::kAccountInterface, bus::kAccountReauth, "s", code->c_str());
            return;
        } catch (const CommandError& e) {
            // A wrong code with tries left ("Wrong code; 2 tries left."): ask again. The
            // last wrong code ("Wrong code, and no tries are left"), and anything else,
            // ends the command.
            auto wrong = match_bus_text(e.english());
            if (e.code() != Errc::InvalidCode || !wrong ||
                std::string_view(wrong->text->singular) != bus_texts::kWrongCode.singular) {
                throw;
            }
            std::fprintf(stderr, "%s\n", e.what());
        }
    }
}

// A call that lwauthd may refuse until the caller has reauthenticated: then once more,
// on the same connection, after the code.
template <typename... Args>
BusMessagePtr call_reauthenticated(Client& client, const char* interface, const char* method,
                                   const char* signature, Args... args) {
    try {
        return client.call(interface, method, signature, args...);
    } catch (const CommandError& e) {
        if (e.code() != Errc::ReauthRequired) {
            throw;
        }
    }
    reauthenticate(client);
    return client.call(interface, method, signature, args...);
}

int cmd_contact_add(const Global& g, const std::string& kind, const std::string& value) {
    Client client;
    call_reauthenticated(client, bus::kAccountInterface, bus::kAccountAddContact, "ss",
                         kind.c_str(), value.c_str());
    print_result(
        g, json{{"kind", kind}, {"status", "pending"}},
        format_text(kind == "phone" ? _("A confirmation code was sent to that phone. Run: "
                                        "lwauthctl contact confirm %s, and type the code.")
                                    : _("A confirmation code was sent to that email. Run: "
                                        "lwauthctl contact confirm %s, and type the code."),
                    {kind}));
    return kExitOk;
}

int cmd_contact_use_profile(const Global& g, const std::string& kind) {
    Client client;
    call_reauthenticated(client, bus::kAccountInterface, bus::kAccountUseProfileContact, "s",
                         kind.c_str());
    print_result(g, json{{"kind", kind}, {"status", "pending"}},
                 format_text(kind == "phone"
                                 ? _("A confirmation code was sent to the phone of your profile. "
                                     "Run: lwauthctl contact confirm %s, and type the code.")
                                 : _("A confirmation code was sent to the email of your profile. "
                                     "Run: lwauthctl contact confirm %s, and type the code."),
                             {kind}));
    return kExitOk;
}

int cmd_contact_confirm(const Global& g, const std::string& kind, std::string& code_arg) {
    Client client;
    if (code_arg.empty()) {
        // Say there is nothing to confirm before asking for a code.
        auto reply = client.call(bus::kAccountInterface, bus::kAccountStatus, "");
        if (!read_vardict(reply.get()).contains("pending_" + kind)) {
            throw CommandError(Errc::NotFound,
                               kind == "phone"
                                   ? _("No phone is waiting for confirmation; add it first: "
                                       "lwauthctl contact add phone NUMBER")
                                   : _("No email is waiting for confirmation; add it first: "
                                       "lwauthctl contact add email ADDRESS"));
        }
    }
    SecretString code =
        code_arg.empty() ? read_code_from_terminal(kind) : code_from_argument(g, code_arg);
    auto reply = call_reauthenticated(client, bus::kAccountInterface, bus::kAccountConfirmContact,
                                      "ss", kind.c_str(), code.c_str());
    int on = 0;
    sd_bus_message_read(reply.get(), "b", &on);
    std::string verified = kind == "phone" ? _("Your phone is verified.")
                                           : _("Your email is verified.");
    if (on != 0) {
        verified += _(" 2-step verification is on.");
    }
    print_result(g, json{{"kind", kind}, {"status", "verified"}, {"two_step", on != 0}},
                 verified);
    return kExitOk;
}

int cmd_contact_remove(const Global& g, const std::string& kind) {
    Client client;
    bool was_on = read_vardict(client.call(bus::kAccountInterface, bus::kAccountStatus, "").get())
                      .value("two_step", false);
    call_reauthenticated(client, bus::kAccountInterface, bus::kAccountRemoveContact, "s",
                         kind.c_str());
    bool on = read_vardict(client.call(bus::kAccountInterface, bus::kAccountStatus, "").get())
                  .value("two_step", false);
    // Removing the last contact turns 2-step verification off: say so.
    std::string removed =
        kind == "phone" ? _("Your phone was removed.") : _("Your email was removed.");
    if (was_on && !on) {
        removed += _(" 2-step verification is now off: you have no verified contact left.");
    }
    print_result(g, json{{"kind", kind}, {"status", "removed"}, {"two_step", on}}, removed);
    return kExitOk;
}

int cmd_two_step(const Global& g, const std::string& state) {
    bool on = state == "on";
    Client client;
    call_reauthenticated(client, bus::kAccountInterface, bus::kAccountSetTwoStep, "b",
                         static_cast<int>(on));
    print_result(g, json{{"two_step", on}},
                 on ? _("2-step verification is on.") : _("2-step verification is off."));
    return kExitOk;
}

int cmd_forget(const Global& g) {
    Client client;
    auto reply = client.call(bus::kAccountInterface, bus::kAccountForget, "");
    uint32_t forgotten = 0;
    read_values(reply, "u", &forgotten);
    print_result(g, json{{"forgotten", forgotten}},
                 forgotten == 0
                     ? std::string(_("No remembered places."))
                     : format_text(ngettext("Forgot %s remembered place; the next login from "
                                            "there asks for a code.",
                                            "Forgot %s remembered places; the next login from "
                                            "there asks for a code.",
                                            static_cast<unsigned long>(forgotten)),
                                   {std::to_string(forgotten)}));
    return kExitOk;
}

// ---- Linking LINE ------------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;

struct LinkOffer {
    std::string url;
    uint32_t number = 0;
    uint64_t expires_at = 0;
};

// Whether the terminal's locale writes UTF-8 (the QR code's half blocks), else ASCII.
bool utf8_locale() {
    std::setlocale(LC_CTYPE, "");
    return std::string_view(nl_langinfo(CODESET)) == "UTF-8";
}

void show_link_offer(const LinkOffer& offer) {
    std::cout << _("Open this link on your phone, or scan the code, and log in to LINE:")
              << "\n\n  " << offer.url << "\n\n";
    try {
        for (const auto& line : utf8_locale() ? qr_lines(offer.url) : qr_lines_ascii(offer.url)) {
            std::cout << line << "\n";
        }
    } catch (const Error&) {
        std::cout << "  " << _("(the link is too long for a QR code)") << "\n";
    }
    std::cout << "\n"
              << format_text(_("Then pick the number %1$s on the page. The link works once, "
                               "until %2$s."),
                             {std::to_string(offer.number), local_time(offer.expires_at)})
              << "\n"
              << std::flush;
}

// Asks lwauthd once a second where the link stands, showing the time left on a terminal,
// until it has an outcome: (state, why). Ctrl-C ends the wait (the link is withdrawn when
// this connection leaves the bus).
std::pair<std::string, std::string> wait_for_link(Client& client, uint64_t expires_at) {
    bool tty = isatty(STDERR_FILENO) != 0;
    const char* waiting = _("Waiting for the approval in LINE...");
    std::fprintf(stderr, "%s%s", waiting, tty ? "" : "\n");
    while (g_interrupted == 0) {
        auto reply = client.call(bus::kAccountInterface, bus::kAccountLineLinkStatus, "");
        const char* state = nullptr;
        const char* why = nullptr;
        read_values(reply, "ss", &state, &why);
        if (std::string_view(state) != bus::kLineLinkWaiting) {
            std::fprintf(stderr, "%s", tty ? "\n" : "");
            return {state, why};
        }
        if (tty) {
            auto now = static_cast<uint64_t>(std::time(nullptr));
            uint64_t left = expires_at > now ? expires_at - now : 0;
            char clock[32];
            std::snprintf(clock, sizeof clock, "%llu:%02llu",
                          static_cast<unsigned long long>(left / 60),
                          static_cast<unsigned long long>(left % 60));
            // TRANSLATORS: %s is the time left, "4:59".
            std::fprintf(stderr, "\r%s %s ", waiting, format_text(_("%s left"), {clock}).c_str());
        }
        struct timespec second = {1, 0};
        nanosleep(&second, nullptr);  // a signal ends it early
    }
    std::fprintf(stderr, "\n");
    return {"", ""};
}

// The exit status of an outcome of LineLinkStatus, and what to say of it.
std::pair<int, std::string> link_outcome(const std::string& state, const std::string& why) {
    if (state == bus::kLineLinkLinked) {
        return {kExitOk, _("LINE is linked: you can log in with LINE.")};
    }
    int status = state == bus::kLineLinkRefused   ? kExitLineRefused
                 : state == bus::kLineLinkExpired ? kExitLineExpired
                                                  : kExitLineFailed;
    // lwauthd's reason is an English msgid (LineFlows, AccountService): shown translated.
    std::string text =
        why.empty() ? _("lwauthd no longer knows this link; try again") : translated_message(why);
    // TRANSLATORS: %1$s is the outcome as lwauthd names it (refused, expired, failed).
    return {status, format_text(_("LINE is not linked (%1$s): %2$s"), {state, sentence(text)})};
}

int cmd_line_link(const Global& g) {
    Client client;
    auto reply = call_reauthenticated(client, bus::kAccountInterface, bus::kAccountLinkLine, "");
    // From here Ctrl-C ends the wait and says so (until here it ends lwauthctl at once).
    struct sigaction on_interrupt {};
    on_interrupt.sa_handler = [](int) { g_interrupted = 1; };
    sigaction(SIGINT, &on_interrupt, nullptr);  // no SA_RESTART: the wait wakes up
    const char* url = nullptr;
    LinkOffer offer;
    read_values(reply, "sut", &url, &offer.number, &offer.expires_at);
    offer.url = url;
    if (g.json_output) {
        std::cout << json{{"url", offer.url}, {"number", offer.number},
                          {"expires_at", offer.expires_at}}
                         .dump(2)
                  << "\n"
                  << std::flush;
    } else {
        show_link_offer(offer);
    }
    auto [state, why] = wait_for_link(client, offer.expires_at);
    if (g_interrupted != 0) {
        std::cerr << "lwauthctl: " << _("Cancelled; the link no longer works.") << "\n";
        return kExitInterrupted;
    }
    auto [status, text] = link_outcome(state, why);
    if (g.json_output) {
        std::cout << json{{"state", state}, {"why", why}}.dump(2) << "\n";
    } else if (status == kExitOk) {
        std::cout << text << "\n";
    }
    if (status != kExitOk) {
        std::cerr << "lwauthctl: " << text << "\n";
    }
    return status;
}

// An Account method without arguments that answers one boolean (UnlinkLine, RemovePin).
bool call_account_for_bool(const char* method) {
    Client client;
    auto reply = client.call(bus::kAccountInterface, method, "");
    int answer = 0;
    read_values(reply, "b", &answer);
    return answer != 0;
}

int cmd_line_unlink(const Global& g) {
    bool was_linked = call_account_for_bool(bus::kAccountUnlinkLine);
    print_result(g, json{{"line_linked", false}, {"was_linked", was_linked}},
                 was_linked ? _("LINE is unlinked: you can no longer log in with LINE.")
                            : _("No LINE account was linked."));
    return kExitOk;
}

// Reads the new PIN twice, as passwd reads a password: without echo from a terminal, or
// two lines of standard input when it is not one. Never from the command line, where
// other users could read it.
SecretString read_new_pin() {
    auto pin = read_code(_("New quick-login PIN: "));
    if (!pin || pin->empty()) {
        throw CommandError(Errc::InvalidArgument, _("No PIN was entered; nothing was changed."));
    }
    auto again = read_code(_("Type the PIN again: "));
    if (!again || !secret_equal(pin->view(), again->view())) {
        throw CommandError(Errc::InvalidArgument,
                           _("The two PINs are not the same; nothing was changed."));
    }
    return std::move(*pin);
}

int cmd_pin_set(const Global& g) {
    SecretString pin = read_new_pin();
    Client client;
    call_reauthenticated(client, bus::kAccountInterface, bus::kAccountSetPin, "s", pin.c_str());
    json s = read_vardict(client.call(bus::kAccountInterface, bus::kAccountStatus, "").get());
    uint64_t until = s.value("pin_until", uint64_t{0});
    // Setting a PIN arms nothing: only a full login starts quick login's lifetime.
    bool usable = static_cast<int64_t>(until) > static_cast<int64_t>(std::time(nullptr));
    print_result(g, json{{"pin_set", true}, {"pin_until", until}},
                 usable ? format_text(_("Your quick-login PIN is set, until %s. Each full login "
                                        "with your password extends it."),
                                      {local_time(until)})
                        : std::string(_("Your quick-login PIN is set. It can be used after your "
                                        "next login with your password.")));
    return kExitOk;
}

int cmd_pin_remove(const Global& g) {
    bool removed = call_account_for_bool(bus::kAccountRemovePin);
    print_result(g, json{{"pin_set", false}, {"removed", removed}},
                 removed ? _("Your quick-login PIN is removed.") : _("No quick-login PIN was set."));
    return kExitOk;
}

// Shows a new secret's otpauth:// URI as text and as a QR code for the app's camera.
void show_totp_uri(const std::string& uri) {
    std::cout << _("Scan this code with your authenticator app, or enter the link in it:")
              << "\n\n  " << uri << "\n\n";
    try {
        for (const auto& line : utf8_locale() ? qr_lines(uri) : qr_lines_ascii(uri)) {
            std::cout << line << "\n";
        }
    } catch (const Error&) {
        std::cout << "  " << _("(the link is too long for a QR code)") << "\n";
    }
    std::cout << "\n" << std::flush;
}

// Sends the app's first code; the app counts from then on.
int confirm_totp(const Global& g, Client& client, const SecretString& code) {
    call_reauthenticated(client, bus::kAccountInterface, bus::kAccountConfirmTotp, "s",
                         code.c_str());
    print_result(g, json{{"totp_set", true}},
                 _("Your authenticator app is set up: its code is asked at your next login. "
                   "Keep recovery codes too (lwauthctl recovery generate)."));
    return kExitOk;
}

int cmd_totp_add(const Global& g) {
    Client client;
    auto reply = call_reauthenticated(client, bus::kAccountInterface, bus::kAccountAddTotp, "");
    const char* uri = nullptr;
    uint64_t expires_at = 0;
    read_values(reply, "st", &uri, &expires_at);
    std::string shown(uri);
    ScopedWipe wipe(shown);
    if (g.json_output) {
        // A script confirms with `totp confirm` once the app has it. The secret is in
        // every copy of the URI: each is wiped.
        json out{{"uri", shown}, {"expires_at", expires_at}};
        std::string text = out.dump(2);
        ScopedWipe wipe_text(text);
        wipe_string(out["uri"].get_ref<std::string&>());
        std::cout << text << "\n";
        return kExitOk;
    }
    show_totp_uri(shown);
    auto code =
        read_code(format_text(_("Code shown by the app (until %s): "), {local_time(expires_at)}));
    if (!code || code->empty()) {
        std::cout << _("No code was entered: confirm it later with lwauthctl totp confirm.")
                  << "\n";
        return kExitOk;
    }
    return confirm_totp(g, client, *code);
}

int cmd_totp_confirm(const Global& g, std::string& code_arg) {
    SecretString code = code_arg.empty()
                            ? read_code(_("Code shown by the app: ")).value_or(SecretString())
                            : code_from_argument(g, code_arg);
    Client client;
    return confirm_totp(g, client, code);
}

int cmd_totp_remove(const Global& g) {
    Client client;
    bool was_on = read_vardict(client.call(bus::kAccountInterface, bus::kAccountStatus, "").get())
                      .value("two_step", false);
    auto reply = call_reauthenticated(client, bus::kAccountInterface, bus::kAccountRemoveTotp, "");
    int removed = 0;
    read_values(reply, "b", &removed);
    bool on = read_vardict(client.call(bus::kAccountInterface, bus::kAccountStatus, "").get())
                  .value("two_step", false);
    std::string said = removed != 0 ? _("Your authenticator app is removed.")
                                    : _("No authenticator app was set up.");
    // Removing the last second factor turns 2-step verification off: say so.
    if (was_on && !on) {
        said += _(" 2-step verification is now off: you have no second factor left.");
    }
    print_result(g, json{{"totp_set", false}, {"removed", removed != 0}, {"two_step", on}}, said);
    return kExitOk;
}

// Prints a set of recovery codes: shown this once, never again.
void print_recovery_codes(const Global& g, sd_bus_message* reply, const json& about) {
    std::vector<std::string> codes;
    if (sd_bus_message_enter_container(reply, 'a', "s") < 0) {
        throw CommandError(Errc::Internal, "lwauthd sent a malformed reply");
    }
    const char* code = nullptr;
    while (sd_bus_message_read(reply, "s", &code) > 0) {
        codes.emplace_back(code);
    }
    if (g.json_output) {
        json out = about;
        out["codes"] = codes;
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << _("Recovery codes: each passes 2-step verification once. Keep them "
                       "somewhere safe; they are not shown again.")
                  << "\n\n";
        for (const auto& c : codes) {
            std::cout << "  " << c << "\n";
        }
        std::cout << "\n" << _("Any earlier recovery codes no longer work.") << "\n";
    }
    for (auto& c : codes) {
        wipe_string(c);
    }
}

int cmd_recovery_generate(const Global& g) {
    Client client;
    auto reply = call_reauthenticated(client, bus::kAccountInterface,
                                      bus::kAccountGenerateRecoveryCodes, "");
    print_recovery_codes(g, reply.get(), json::object());
    return kExitOk;
}

// ---- Administration (the Admin interface) ------------------------------------------------

std::vector<json> read_status_list(sd_bus_message* m) {
    std::vector<json> out;
    for (const auto& s : read_reply(bus::read_status_list, m)) {
        out.push_back(status_to_json(s));
    }
    return out;
}

int cmd_admin_users(const Global& g) {
    Client client;
    auto reply = client.call(bus::kAdminInterface, bus::kAdminListUsers, "");
    std::vector<json> users = read_status_list(reply.get());
    if (g.json_output) {
        std::cout << json{{"users", users}}.dump(2) << "\n";
        return kExitOk;
    }
    if (users.empty()) {
        std::cout << _("No user has set up anything yet.") << "\n";
        return kExitOk;
    }
    auto str = [](const json& u, const char* key) {
        return u.contains(key) && u[key].is_string() ? u[key].get<std::string>() : std::string("-");
    };
    auto yes_no = [](const json& u, const char* key) {
        return std::string(u.value(key, false) ? _("yes") : _("no"));
    };
    // TRANSLATORS: the headers of "lwauthctl admin users", a table in columns.
    std::vector<std::vector<std::string>> rows = {
        {_("USER"), _("2-STEP"), _("PHONE"), _("EMAIL"), "LINE", _("PIN"), _("LOCKED")}};
    for (const auto& u : users) {
        uint64_t locked = u.value("locked_until", uint64_t{0});
        rows.push_back({str(u, "user"), u.value("two_step", false) ? _("on") : _("off"),
                        str(u, "phone"), str(u, "email"), yes_no(u, "line_linked"),
                        yes_no(u, "pin_set"),
                        locked != 0 ? format_text(_("until %s"), {local_time(locked)})
                                    : std::string(_("no"))});
    }
    // Column widths in characters, not bytes: masked values hold multi-byte dots.
    auto width = [](const std::string& text) {
        size_t n = 0;
        for (unsigned char c : text) {
            n += (c & 0xc0) != 0x80 ? 1 : 0;
        }
        return n;
    };
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], width(row[i]));
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line += std::string(widths[i] - width(row[i]) + 2, ' ');
            }
        }
        std::cout << line << "\n";
    }
    return kExitOk;
}

int cmd_admin_show(const Global& g, const std::string& user) {
    Client client;
    auto reply = client.call(bus::kAdminInterface, bus::kAdminShowUser, "s", user.c_str());
    json s = read_vardict(reply.get());
    if (g.json_output) {
        std::cout << s.dump(2) << "\n";
        return kExitOk;
    }
    print_settings(s, false);
    return kExitOk;
}

int cmd_admin_contact_set(const Global& g, const std::string& user, const std::string& kind,
                          const std::string& value) {
    Client client;
    client.call(bus::kAdminInterface, bus::kAdminSetContact, "sss", user.c_str(), kind.c_str(),
                value.c_str());
    print_result(g, json{{"user", user}, {"kind", kind}, {"action", "contact-set"}},
                 format_text(kind == "phone" ? _("The phone of %s's profile was set.")
                                             : _("The email of %s's profile was set."),
                             {user}));
    return kExitOk;
}

int cmd_admin_contact_remove(const Global& g, const std::string& user, const std::string& kind) {
    Client client;
    client.call(bus::kAdminInterface, bus::kAdminRemoveContact, "ss", user.c_str(), kind.c_str());
    print_result(g, json{{"user", user}, {"kind", kind}, {"action", "contact-remove"}},
                 format_text(kind == "phone" ? _("The phone of %s's profile was removed.")
                                             : _("The email of %s's profile was removed."),
                             {user}));
    return kExitOk;
}

int cmd_admin_unlock(const Global& g, const std::string& user) {
    Client client;
    client.call(bus::kAdminInterface, bus::kAdminUnlock, "s", user.c_str());
    print_result(g, json{{"user", user}, {"action", "unlock"}},
                 format_text(_("%s is unlocked."), {user}));
    return kExitOk;
}

int cmd_admin_test_send(const Global& g, const std::string& user) {
    Client client;
    auto reply = client.call(bus::kAdminInterface, bus::kAdminTestSend, "s", user.c_str());
    const char* channel = nullptr;
    const char* destination = nullptr;
    read_values(reply, "ss", &channel, &destination);
    print_result(g, json{{"user", user}, {"channel", channel}, {"destination", destination}},
                 // TRANSLATORS: "[channel.%2$s]" names a section of lwauth.conf; %3$s is the
                 // masked destination.
                 format_text(_("A test message to %1$s was sent through [channel.%2$s] to %3$s."),
                             {user, channel, destination}));
    return kExitOk;
}

int cmd_admin_reset(const Global& g, const std::string& user, const std::string& what) {
    Client client;
    client.call(bus::kAdminInterface, bus::kAdminReset, "ss", user.c_str(), what.c_str());
    const char* done = what == "pin"        ? _("%s's quick-login PIN was removed.")
                       : what == "line"     ? _("%s's LINE link was removed.")
                       : what == "contacts" ? _("%s's login contacts were removed; 2-step is off.")
                       : what == "hosts"
                           ? _("%s's remembered places were forgotten; the next login from each "
                               "asks for a code.")
                       : what == "totp" ? _("%s's authenticator app was removed.")
                                        : _("%s's login settings were reset.");
    print_result(g, json{{"user", user}, {"reset", what}, {"action", "reset"}},
                 format_text(done, {user}));
    return kExitOk;
}

int cmd_admin_recovery(const Global& g, const std::string& user) {
    Client client;
    auto reply = client.call(bus::kAdminInterface, bus::kAdminRecoveryCodes, "s", user.c_str());
    print_recovery_codes(g, reply.get(), json{{"user", user}, {"action", "recovery"}});
    return kExitOk;
}

int cmd_admin_rekey(const Global& g) {
    Client client;
    auto reply = client.call(bus::kAdminInterface, bus::kAdminRekey, "");
    uint32_t resealed = 0;
    uint32_t current = 0;
    uint32_t unopenable = 0;
    read_values(reply, "uuu", &resealed, &current, &unopenable);
    std::string human =
        format_text(_("Sealed again under the current key: %s"), {std::to_string(resealed)}) +
        "\n" + format_text(_("Already under the current key: %s"), {std::to_string(current)}) +
        "\n" +
        format_text(_("Opened by no key (kept as they are): %s"), {std::to_string(unopenable)}) +
        "\n";
    if (unopenable == 0) {
        human +=
            _("Every stored value opens with the current key. Once every host that "
              "shares this store has the same contacts_key_file, the files of [store] "
              "contacts_old_key_files may be removed from the policy.");
    } else {
        human +=
            _("Some values open with no key lwauthd has; lwauthd's log (admin-rekey) names "
              "their users. They stay unreadable until the key that sealed them is named in "
              "[store] contacts_old_key_files and the rekey is run again, or until the users "
              "set them again.");
    }
    // A LINE link is a one-way hash: nothing here can redo it under a new key.
    human += "\n" + std::string(_("LINE links are left as they are: one kept under a key of [line] "
                                  "subject_old_key_files moves to subject_key_file at its user's "
                                  "next LINE login (how many are left cannot be counted)."));
    print_result(g,
                 json{{"action", "rekey"},
                      {"resealed", resealed},
                      {"current", current},
                      {"unopenable", unopenable},
                      {"old_keys_removable", unopenable == 0}},
                 human);
    return kExitOk;
}

int cmd_policy_show(const Global& g, const std::string& user) {
    Client client;
    auto reply = client.call(bus::kAdminInterface, bus::kAdminShowPolicy, "s", user.c_str());
    const char* text = nullptr;
    if (sd_bus_message_read(reply.get(), "s", &text) < 0 || text == nullptr) {
        throw CommandError(Errc::Internal, _("lwauthd sent a malformed reply"));
    }
    if (g.json_output) {
        std::cout << json{{"user", user}, {"effective", text}}.dump(2) << "\n";
    } else {
        std::cout << format_text(_("Effective policy for %s (as lwauthd runs it):"), {user}) << "\n"
                  << text;
    }
    return kExitOk;
}

int cmd_policy_check(const Global& g, const std::string& dir, const std::string& user,
                     std::vector<std::string> groups) {
    if (!user.empty() && groups.empty()) {
        groups = SystemUserDirectory().groups_of(user);
    }
    policy::LoadOptions options;
    options.secret_reader = installed_daemon_reader();
    auto loaded = policy::load_directory(dir, options);
    if (g.json_output) {
        json out = {{"directory", dir}, {"valid", loaded.policy.has_value()}};
        out["errors"] = json::array();
        for (const auto& d : loaded.errors) {
            out["errors"].push_back({{"file", d.file}, {"line", d.line}, {"message", d.message}});
        }
        out["warnings"] = json::array();
        for (const auto& d : loaded.warnings) {
            out["warnings"].push_back({{"file", d.file}, {"line", d.line}, {"message", d.message}});
        }
        if (loaded.policy && !user.empty()) {
            out["effective"] =
                policy::describe(loaded.policy->effective_for(user, groups), *loaded.policy);
        }
        std::cout << out.dump(2) << "\n";
        return loaded.policy ? kExitOk : ctl_exit_status(Errc::BadPolicy);
    }
    for (const auto& d : loaded.warnings) {
        std::cerr << warning_text(d) << "\n";
    }
    if (!loaded.policy) {
        for (const auto& d : loaded.errors) {
            std::cerr << d.to_string() << "\n";
        }
        size_t errors = loaded.errors.size();
        std::cerr << format_text(ngettext("%1$s error in %2$s; lwauthd would refuse this policy.",
                                          "%1$s errors in %2$s; lwauthd would refuse this policy.",
                                          static_cast<unsigned long>(errors)),
                                 {std::to_string(errors), dir})
                  << "\n";
        return ctl_exit_status(Errc::BadPolicy);
    }
    std::cout << format_text(_("The policy in %s is valid."), {dir}) << "\n";
    if (!user.empty()) {
        std::cout << "\n"
                  << format_text(_("Effective policy for %s:"), {user}) << "\n"
                  << policy::describe(loaded.policy->effective_for(user, groups), *loaded.policy);
    }
    return kExitOk;
}

int cmd_policy_edit(const Global& g, const std::string& dir) {
    PolicyEditOptions options;
    options.dir = dir;
    options.json_output = g.json_output;
    options.reload = []() -> ReloadOutcome {
        try {
            Client client;
            client.call(bus::kAdminInterface, bus::kAdminReloadPolicy, "");
            return {};
        } catch (const CommandError& e) {
            return {e.exit_code(), e.what()};
        }
    };
    return policy_edit(options, std::cin, std::cout, std::cerr);
}

int cmd_policy_reload(const Global& g) {
    Client client;
    client.call(bus::kAdminInterface, bus::kAdminReloadPolicy, "");
    print_result(g, json{{"reloaded", true}}, _("The policy was reloaded."));
    return kExitOk;
}

}  // namespace
}  // namespace lwauth

namespace lwauth {
namespace {

// The names of a command's commands: "status, contact, two-step".
std::string command_names(const CLI::App& level) {
    std::string names;
    for (const CLI::App* candidate : level.get_subcommands({})) {
        names += (names.empty() ? "" : ", ") + candidate->get_name();
    }
    return names;
}

// What is wrong with a command line, in words that name the command: CLI11 says "A
// subcommand is required" both for a missing command and for a misspelt one. CLI11's own
// messages are not translatable and stay English.
std::string usage_problem(const CLI::App& app, int argc, char** argv, const std::string& what) {
    const CLI::App* level = &app;
    std::string path = "lwauthctl";
    for (int i = 1; i < argc; ++i) {
        std::string word = argv[i];
        if (word.starts_with("-")) {
            continue;
        }
        const CLI::App* sub = nullptr;
        for (const CLI::App* candidate : level->get_subcommands({})) {
            if (candidate->get_name() == word) {
                sub = candidate;
            }
        }
        if (sub == nullptr) {
            if (level->get_subcommands({}).empty()) {
                break;  // an argument of a command: CLI11's message names it
            }
            // TRANSLATORS: %1$s is what was typed, %2$s a command ("lwauthctl contact"),
            // %3$s the commands it has, separated by commas.
            return format_text(_("unknown command '%1$s' for %2$s; expected one of %3$s"),
                               {word, path, command_names(*level)});
        }
        level = sub;
        path += " " + word;
    }
    if (what == "A subcommand is required" && !level->get_subcommands({}).empty()) {
        // TRANSLATORS: %1$s is a command ("lwauthctl contact"), %2$s the commands it has,
        // separated by commas.
        return format_text(_("%1$s needs a command: one of %2$s"), {path, command_names(*level)});
    }
    return what;
}

}  // namespace
}  // namespace lwauth

namespace lwauth {
namespace {

// What the command line sets: the options of every command, and the chosen command's exit
// status (its callback runs during parsing).
struct CommandLine {
    Global g;
    int status = kExitOk;
    std::string kind;
    std::string value;
    std::string code;
    std::string state;
    std::string target;
    std::string what = "all";
    std::string dir = LWAUTH_SYSCONFDIR;
    std::string user;
    std::vector<std::string> groups;
    std::string edit_dir = LWAUTH_SYSCONFDIR;
    std::string show_user;
};

void add_kind(CLI::App* command, std::string& kind) {
    command->add_option("kind", kind, _("phone or email"))
        ->required()
        ->check(CLI::IsMember({"phone", "email"}));
}

void add_contact_commands(CLI::App& app, CommandLine& c) {
    auto* contact = app.add_subcommand(
        "contact", _("Add, confirm or remove your phone number or email address"));
    contact->require_subcommand(1);
    auto* add = contact->add_subcommand(
        "add", _("Send a confirmation code to a new phone number or email address"));
    add_kind(add, c.kind);
    add->add_option("value", c.value,
                    _("the number in international form (+81 90 ...) or the address"))
        ->required();
    add->callback([&c] { c.status = cmd_contact_add(c.g, c.kind, c.value); });
    auto* confirm =
        contact->add_subcommand("confirm", _("Confirm a new contact with the code it received"));
    add_kind(confirm, c.kind);
    confirm->add_option("code", c.code,
                        _("the code; best left out: it is then asked for, as the command line is "
                          "visible to other users"));
    confirm->callback([&c] { c.status = cmd_contact_confirm(c.g, c.kind, c.code); });
    auto* use_profile = contact->add_subcommand(
        "use-profile", _("Log in with the phone number or email address of your profile"));
    add_kind(use_profile, c.kind);
    use_profile->callback([&c] { c.status = cmd_contact_use_profile(c.g, c.kind); });
    auto* remove = contact->add_subcommand("remove", _("Remove a verified contact"));
    add_kind(remove, c.kind);
    remove->callback([&c] { c.status = cmd_contact_remove(c.g, c.kind); });
}

void add_second_factor_commands(CLI::App& app, CommandLine& c) {
    auto* totp = app.add_subcommand("totp", _("Add or remove an authenticator app (TOTP)"));
    totp->require_subcommand(1);
    auto* add = totp->add_subcommand(
        "add", _("Add an authenticator app: scan the QR code, then type its first code"));
    add->callback([&c] { c.status = cmd_totp_add(c.g); });
    auto* confirm =
        totp->add_subcommand("confirm", _("Type the first code of the app that totp add showed"));
    confirm->add_option("code", c.code,
                        _("the code; best left out: it is then asked for, as the command line is "
                          "visible to other users"));
    confirm->callback([&c] { c.status = cmd_totp_confirm(c.g, c.code); });
    auto* remove = totp->add_subcommand("remove", _("Remove your authenticator app"));
    remove->callback([&c] { c.status = cmd_totp_remove(c.g); });
    auto* recovery = app.add_subcommand("recovery", _("Recovery codes for 2-step verification"));
    recovery->require_subcommand(1);
    auto* generate = recovery->add_subcommand(
        "generate", _("Make 10 new single-use recovery codes (the old ones stop working)"));
    generate->callback([&c] { c.status = cmd_recovery_generate(c.g); });
}

void add_self_service_commands(CLI::App& app, CommandLine& c) {
    auto* st = app.add_subcommand("status", _("Show your login settings (contacts are masked)"));
    st->callback([&c] { c.status = cmd_status(c.g); });
    add_contact_commands(app, c);
    auto* two_step =
        app.add_subcommand("two-step", _("Turn 2-step verification on or off for your account"));
    two_step->add_option("state", c.state, _("on or off"))
        ->required()
        ->check(CLI::IsMember({"on", "off"}));
    two_step->callback([&c] { c.status = cmd_two_step(c.g, c.state); });
    auto* line =
        app.add_subcommand("line", _("Link or unlink your LINE account to log in with it"));
    line->require_subcommand(1);
    auto* link = line->add_subcommand(
        "link", _("Link a LINE account: open the link (or scan the QR code) on your phone"));
    link->callback([&c] { c.status = cmd_line_link(c.g); });
    auto* unlink = line->add_subcommand("unlink", _("Unlink your LINE account"));
    unlink->callback([&c] { c.status = cmd_line_unlink(c.g); });
    auto* pin = app.add_subcommand("pin", _("Set or remove your quick-login PIN for this machine"));
    pin->require_subcommand(1);
    auto* pin_set = pin->add_subcommand(
        "set", _("Set a PIN (read twice, without echo) shortly after a full login"));
    pin_set->callback([&c] { c.status = cmd_pin_set(c.g); });
    auto* pin_remove = pin->add_subcommand("remove", _("Remove your quick-login PIN"));
    pin_remove->callback([&c] { c.status = cmd_pin_remove(c.g); });
    add_second_factor_commands(app, c);
    auto* forget = app.add_subcommand(
        "forget", _("Forget the places where no code is asked (remember_host): ask there again"));
    forget->callback([&c] { c.status = cmd_forget(c.g); });
}

void add_admin_test_command(CLI::App* admin, CommandLine& c) {
    auto* test_send = admin->add_subcommand(
        "test-send", _("Send a user a test message (no code) where their login codes go"));
    test_send->add_option("user", c.target, _("user name"))->required();
    test_send->callback([&c] { c.status = cmd_admin_test_send(c.g, c.target); });
}

void add_admin_commands(CLI::App& app, CommandLine& c) {
    auto* admin = app.add_subcommand(
        "admin", _("Manage other users' login settings (root or the policy's admin group)"));
    admin->require_subcommand(1);
    auto* users =
        admin->add_subcommand("users", _("List the users lwauth knows (contacts masked)"));
    users->callback([&c] { c.status = cmd_admin_users(c.g); });
    auto* show = admin->add_subcommand("show", _("Show one user's login settings (masked)"));
    show->add_option("user", c.target, _("user name"))->required();
    show->callback([&c] { c.status = cmd_admin_show(c.g, c.target); });
    auto* admin_contact =
        admin->add_subcommand("contact", _("Set or remove the phone or email of a user's profile"));
    admin_contact->require_subcommand(1);
    auto* admin_set =
        admin_contact->add_subcommand("set", _("Set a profile phone number or email"));
    admin_set->add_option("user", c.target, _("user name"))->required();
    add_kind(admin_set, c.kind);
    admin_set->add_option("value", c.value, _("the number (+81 90 ...) or the address"))
        ->required();
    admin_set->callback(
        [&c] { c.status = cmd_admin_contact_set(c.g, c.target, c.kind, c.value); });
    auto* admin_remove =
        admin_contact->add_subcommand("remove", _("Remove a profile phone number or email"));
    admin_remove->add_option("user", c.target, _("user name"))->required();
    add_kind(admin_remove, c.kind);
    admin_remove->callback(
        [&c] { c.status = cmd_admin_contact_remove(c.g, c.target, c.kind); });
    auto* unlock = admin->add_subcommand("unlock", _("End a user's lockout after failed codes"));
    unlock->add_option("user", c.target, _("user name"))->required();
    unlock->callback([&c] { c.status = cmd_admin_unlock(c.g, c.target); });
    auto* reset = admin->add_subcommand("reset", _("Clear what a user has set up"));
    reset->add_option("user", c.target, _("user name"))->required();
    reset->add_option("what", c.what, _("pin, line, contacts, hosts, totp or all"))
        ->capture_default_str()
        ->check(CLI::IsMember({"pin", "line", "contacts", "hosts", "totp", "all"}));
    reset->callback([&c] { c.status = cmd_admin_reset(c.g, c.target, c.what); });
    auto* recovery = admin->add_subcommand(
        "recovery", _("Make new recovery codes for a user who lost every second factor"));
    recovery->add_option("user", c.target, _("user name"))->required();
    recovery->callback([&c] { c.status = cmd_admin_recovery(c.g, c.target); });
    add_admin_test_command(admin, c);
    auto* rekey = admin->add_subcommand(
        "rekey", _("Seal every stored contact and app secret again under the current key"));
    rekey->callback([&c] { c.status = cmd_admin_rekey(c.g); });
}

void add_policy_commands(CLI::App& app, CommandLine& c) {
    auto* pol = app.add_subcommand("policy", _("Check, show, edit or reload the login policy"));
    pol->require_subcommand(1);
    auto* check = pol->add_subcommand(
        "check", _("Check a policy directory; report every error with file:line"));
    check->add_option("dir", c.dir, _("policy directory"))->capture_default_str();
    check->add_option("--user", c.user, _("also print the effective policy for this user"));
    check->add_option("--group", c.groups,
                      _("groups of --user (repeatable; default: the user's groups on this host)"));
    check->callback([&c] { c.status = cmd_policy_check(c.g, c.dir, c.user, c.groups); });
    auto* edit = pol->add_subcommand(
        "edit",
        _("Edit lwauth.conf safely: locked, checked before it is installed, then reloaded"));
    edit->add_option("dir", c.edit_dir, _("policy directory"))->capture_default_str();
    edit->callback([&c] { c.status = cmd_policy_edit(c.g, c.edit_dir); });
    auto* pshow = pol->add_subcommand(
        "show", _("Show the effective policy lwauthd applies to a user (root or admin group)"));
    pshow->add_option("user", c.show_user, _("user name"))->required();
    pshow->callback([&c] { c.status = cmd_policy_show(c.g, c.show_user); });
    auto* reload =
        pol->add_subcommand("reload", _("Ask lwauthd to reload the policy (root or admin group)"));
    reload->callback([&c] { c.status = cmd_policy_reload(c.g); });
}

// A usage error exits 2 whatever CLI11 numbers it; --help and --version exit 0.
int usage_error(const CLI::App& app, int argc, char** argv, const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
        return app.exit(e);
    }
    std::string message = usage_problem(app, argc, argv, e.what());
    bool json_output = false;
    for (int i = 1; i < argc; ++i) {
        json_output |= std::string_view(argv[i]) == "--json";
    }
    if (json_output) {
        std::cout << nlohmann::json{{"error", "usage"}, {"message", message}}.dump(2) << "\n";
    }
    std::cerr << "lwauthctl: " << message << "\n"
              << _("Run lwauthctl --help for the commands.") << "\n";
    return kExitUsage;
}

// Parses the command line, which runs the command; its exit status.
int run_command_line(CLI::App& app, int argc, char** argv, const CommandLine& c) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return usage_error(app, argc, argv, e);
    } catch (const CommandError& e) {
        if (c.g.json_output) {
            std::cout << nlohmann::json{{"error", errc_name(e.code())}, {"message", e.what()}}.dump(
                             2)
                      << "\n";
        }
        std::cerr << "lwauthctl: " << e.what() << "\n";
        return e.exit_code();
    } catch (const std::exception& e) {
        std::cerr << "lwauthctl: " << e.what() << "\n";
        return ctl_exit_status(Errc::Internal);
    }
    return c.status;
}

}  // namespace
}  // namespace lwauth

int main(int argc, char** argv) {
    using namespace lwauth;
    // The user's locale (LANG, LC_MESSAGES, LC_ALL): a locale the system has not generated
    // leaves lwauthctl in English, as every gettext program does.
    std::setlocale(LC_ALL, "");
    bindtextdomain("lwauth", catalog_dir().c_str());
    textdomain("lwauth");
    // CLI11's own words in --help ("Usage", "OPTIONS", "SUBCOMMANDS", "REQUIRED") stay
    // English: it has no catalog; the descriptions of lwauthctl's commands are translated.
    CLI::App app{
        _("Manage lwauth login settings: your own contacts and 2-step verification; other "
          "users' as an administrator; the login policy.")};
    app.require_subcommand(1);
    // --json may come before or after the command ("lwauthctl status --json").
    app.fallthrough();
    app.set_help_flag("-h,--help", _("Print this help message and exit"));
    app.set_version_flag("--version", std::string("lwauthctl ") + LWAUTH_VERSION,
                         _("Display program version information and exit"));
    CommandLine c;
    c.g.argc = argc;
    c.g.argv = argv;
    app.add_flag("--json", c.g.json_output, _("Print machine-readable JSON"));
    add_self_service_commands(app, c);
    add_admin_commands(app, c);
    add_policy_commands(app, c);
    return run_command_line(app, argc, argv, c);
}
