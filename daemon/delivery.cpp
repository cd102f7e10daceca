#include "delivery.hpp"

#include <algorithm>

#include "log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/mask.hpp"

namespace lwauth {
namespace {

constexpr int64_t kHour = 3600;

std::string minutes_text(std::chrono::seconds lifetime, Language language) {
    auto minutes = lifetime.count() / 60;
    if (minutes >= 1 && lifetime.count() % 60 == 0) {
        return format_text(
            tr_n(language, "%s minute", "%s minutes", static_cast<unsigned long>(minutes)),
            {std::to_string(minutes)});
    }
    return format_text(
        tr_n(language, "%s second", "%s seconds", static_cast<unsigned long>(lifetime.count())),
        {std::to_string(lifetime.count())});
}

SecretString compose(CodePurpose purpose, const SecretString& code,
                     const policy::CodePolicy& code_policy, Language language) {
    // Kept short: one SMS holds 160 characters (70 in UCS-2, as Japanese goes).
    const bool reauth = purpose == CodePurpose::Reauth;
    // TRANSLATORS: %1$s is the code, %2$s how long it lasts ("5 minutes").
    const char* form =
        purpose == CodePurpose::ConfirmContact
            ? N_("lwauth: your confirmation code is %1$s. It expires in %2$s. Never share it "
                 "with anyone.")
        : reauth ? N_("lwauth: your code to change your login settings is %1$s. It expires in "
                      "%2$s. Never share it; if you did not ask for it, tell your administrator.")
                 : N_("lwauth: your verification code is %1$s. It expires in %2$s. Never share "
                      "it with anyone.");
    std::string text = format_text(tr(language, form),
                                   {code.view(), minutes_text(code_policy.lifetime, language)});
    SecretString secret(text);
    wipe_string(text);
    return secret;
}

}  // namespace

std::string test_message_text(const std::string& host, Language language) {
    // TRANSLATORS: %1$s is the host's name.
    return format_text(tr(language, N_("lwauth: test message from %1$s. No action is needed.")),
                       {host});
}

const char* contact_kind_for(policy::Kind kind) {
    switch (kind) {
        case policy::Kind::Sms:
            return "phone";
        case policy::Kind::Email:
            return "email";
        case policy::Kind::Notification:
            return "";
    }
    return "";
}

bool sms_prefix_allowed(const policy::CodePolicy& code_policy, const std::string& e164) {
    if (code_policy.sms_country_prefixes.empty()) {
        return true;
    }
    for (const auto& prefix : code_policy.sms_country_prefixes) {
        if (e164.rfind(prefix, 0) == 0) {
            return true;
        }
    }
    return false;
}

struct CodeSender::Attempt {
    std::string user;
    std::string rhost;
    std::string admin;  // the administrator's UID, for a test message
    CodePurpose purpose = CodePurpose::Login;
    policy::CodePolicy code_policy;
    SecretString text;
    Language language = Language::En;  // the language `text` is in
    std::vector<Target> targets;
    size_t next = 0;
    // What the log says of each cap of the send in flight, when it is reached.
    std::vector<const char*> reached;
    std::string last_error;
    Done<Delivered> done;
};

namespace {

// One cap of a send: what it counts, and what the log says when it is reached.
struct NamedCap {
    SendCap cap;
    const char* reached;
};

std::vector<NamedCap> purpose_caps(CodePurpose purpose, const std::string& user,
                                   const std::string& rhost, const std::string& destination_hash,
                                   const policy::CodePolicy& code_policy,
                                   const std::string& admin) {
    const int per_destination = code_policy.max_sends_per_destination_per_hour;
    const int per_host = code_policy.max_sends_per_host_per_hour;
    switch (purpose) {
        case CodePurpose::PasswordlessLogin: {
            // Before any password: a budget of its own, per user and per remote host, so
            // that unauthenticated logins cannot use up the codes of the user's 2-step
            // verification, nor the host's.
            std::vector<NamedCap> caps = {
                {{"passwordless-user:" + user, code_policy.max_passwordless_sends_per_hour},
                 "passwordless per-user send cap reached"},
                {{"passwordless-destination:" + destination_hash, per_destination},
                 "passwordless per-destination send cap reached"},
                {{"passwordless-host", per_host}, "passwordless per-host send cap reached"},
            };
            if (!rhost.empty()) {
                caps.push_back({{"passwordless-rhost:" + rhost,
                                 code_policy.max_passwordless_sends_per_rhost_per_hour},
                                "passwordless per-remote-host send cap reached"});
            }
            return caps;
        }
        case CodePurpose::Reauth:
            // A budget of its own, to the user's own verified contacts: confirmations that
            // someone else aims at the same number, and the user's login codes, are apart.
            return {
                {{"reauth-user:" + user, code_policy.max_sends_per_hour},
                 "per-user reauthentication send cap reached"},
                {{"reauth-destination:" + destination_hash, per_destination},
                 "per-destination reauthentication send cap reached"},
                {{"host", per_host}, "per-host send cap reached"},
            };
        case CodePurpose::ConfirmContact:
            // Confirmations to a number that is not yet verified must not use up that
            // number's login codes (anyone may type anyone's number into `contact add`),
            // nor the user's own login codes. The host cap counts them with logins.
            return {
                {{"confirm-user:" + user, code_policy.max_sends_per_hour},
                 "per-user confirmation send cap reached"},
                {{"confirm-destination:" + destination_hash, per_destination},
                 "per-destination confirmation send cap reached"},
                {{"host", per_host}, "per-host send cap reached"},
            };
        case CodePurpose::Test:
            // A test message counts as a login code against the user and the destination:
            // it shows what a login could send. Instead of the host cap, which every user's
            // logins share, a small budget per user and per administrator bounds it; the
            // host cap is checked, so a host out of codes sends no tests either.
            return {
                {{"test-user:" + user, kTestSendsPerUserPerHour}, kTestBudgetReached},
                {{"test-admin:" + admin, kTestSendsPerAdminPerHour}, kTestBudgetReached},
                {{"user:" + user, code_policy.max_sends_per_hour}, "per-user send cap reached"},
                {{"destination:" + destination_hash, per_destination},
                 "per-destination send cap reached"},
                {{"host", per_host, false}, "per-host send cap reached"},
            };
        case CodePurpose::Login:
            break;
    }
    return {
        {{"user:" + user, code_policy.max_sends_per_hour}, "per-user send cap reached"},
        {{"destination:" + destination_hash, per_destination}, "per-destination send cap reached"},
        {{"host", per_host}, "per-host send cap reached"},
    };
}

// The caps of a send: its purpose's, and [code] max_sends_per_fleet_per_hour (when set)
// beside the host's cap, counted as it is: on a store that hosts share (postgresql), every
// host's codes; on SQLite, this host's alone.
//
// After a rotation of the code key, the destination's sends under each earlier key
// ([store] code_old_key_files, `old_hashes`) are checked as well, each apart (not
// counted: the send is counted under the current key): in the hour after a rotation a
// destination gets at most its cap under the old key's count plus its cap under the new
// one, less than twice the cap, and from the next hour exactly the cap.
std::vector<NamedCap> send_caps(CodePurpose purpose, const std::string& user,
                                const std::string& rhost, const std::string& destination_hash,
                                const policy::CodePolicy& code_policy,
                                const std::string& admin = "",
                                const std::vector<std::string>& old_hashes = {}) {
    std::vector<NamedCap> caps =
        purpose_caps(purpose, user, rhost, destination_hash, code_policy, admin);
    const size_t own = caps.size();
    for (size_t i = 0; i < own && !destination_hash.empty(); ++i) {
        const std::string& key = caps[i].cap.key;
        if (key.ends_with(":" + destination_hash)) {
            for (const auto& old : old_hashes) {
                NamedCap copy = caps[i];
                copy.cap.key = key.substr(0, key.size() - destination_hash.size()) + old;
                copy.cap.counted = false;
                caps.push_back(std::move(copy));
            }
        }
    }
    if (code_policy.max_sends_per_fleet_per_hour > 0) {
        for (const auto& named : caps) {
            if (named.cap.key == "host") {
                caps.push_back(
                    {{"fleet", code_policy.max_sends_per_fleet_per_hour, named.cap.counted},
                     "fleet send cap reached"});
                break;
            }
        }
    }
    return caps;
}

}  // namespace

void CodeSender::add_targets(std::vector<Target>& targets, const policy::Policy& policy,
                             policy::Kind kind, const std::string& destination) const {
    for (const policy::ChannelConfig* config : policy.channels_for(kind)) {
        auto it = channels_.find(config->name);
        if (it != channels_.end()) {
            targets.push_back({kind, destination, config->name, it->second});
        }
    }
}

std::vector<CodeSender::Target> CodeSender::login_targets(const std::string& user,
                                                          const policy::Policy& policy,
                                                          const policy::UserPolicy& user_policy,
                                                          const UserState& state) const {
    std::vector<Target> targets;
    for (policy::Kind kind : user_policy.code.channels) {
        if (kind == policy::Kind::Notification) {
            add_targets(targets, policy, kind, user);
            continue;
        }
        const Contact* contact = state.contact(contact_kind_for(kind));
        if (contact == nullptr ||
            (kind == policy::Kind::Sms && !sms_prefix_allowed(user_policy.code, contact->value))) {
            continue;
        }
        add_targets(targets, policy, kind, contact->value);
    }
    return targets;
}

void CodeSender::login_capped_until(const std::string& user, const policy::Policy& policy,
                                    const policy::UserPolicy& user_policy, const UserState& state,
                                    const std::string& rhost, Done<int64_t> done) const {
    std::vector<Target> targets = login_targets(user, policy, user_policy, state);
    if (targets.empty()) {
        done(int64_t{0});
        return;
    }
    // The first target is the one a send reserves against; a cap reached there ends it.
    std::vector<SendCap> caps;
    const std::string& destination = targets.front().destination;
    for (const auto& named :
         send_caps(CodePurpose::Login, user, rhost, hasher_.keyed_hex("destination", destination),
                   user_policy.code, "", hasher_.old_keyed_hex("destination", destination))) {
        caps.push_back(named.cap);
    }
    int64_t now = clock_.now();
    store_.check_send(caps, now - kHour, now,
                      then<SendReservation>(std::move(done), [now](const SendReservation& check,
                                                                   Done<int64_t>& until) {
                          until(check.capped >= 0 ? std::max(check.room_at, now + 1) : 0);
                      }));
}

void CodeSender::advance(const std::shared_ptr<Attempt>& attempt) {
    if (attempt->next >= attempt->targets.size()) {
        attempt->done(Error(Errc::DeliveryFailed, attempt->last_error.empty()
                                                      ? "no channel can reach this user"
                                                      : attempt->last_error));
        return;
    }
    const Target& target = attempt->targets[attempt->next++];
    std::string destination_hash = hasher_.keyed_hex("destination", target.destination);
    // Counted before it leaves, against every cap at once: sends in flight count, so
    // parallel requests cannot slip past a cap while the gateway is slow to answer.
    int64_t now = clock_.now();
    std::vector<NamedCap> named = send_caps(
        attempt->purpose, attempt->user, attempt->rhost, destination_hash, attempt->code_policy,
        attempt->admin, hasher_.old_keyed_hex("destination", target.destination));
    std::vector<SendCap> caps;
    caps.reserve(named.size());
    attempt->reached.clear();
    for (auto& n : named) {
        caps.push_back(std::move(n.cap));
        attempt->reached.push_back(n.reached);
    }
    // `target` stays valid: targets never change once the attempt has started.
    store_.reserve_send(caps, now - kHour, now,
                        [this, attempt, &target](Result<SendReservation> reservation) {
                            send_reserved(attempt, target, std::move(reservation));
                        });
}

void CodeSender::send_reserved(const std::shared_ptr<Attempt>& attempt, const Target& target,
                               Result<SendReservation> reservation) {
    if (!reservation) {
        log_event(
            LogLevel::Error, "store-failed",
            std::string("cannot count a send against the caps: ") + reservation.error().what(),
            {{"USER", attempt->user}});
        attempt->done(reservation.error());  // nothing counted, nothing sent
        return;
    }
    if (!reservation->reserved()) {
        const char* reached = attempt->reached[static_cast<size_t>(reservation->capped)];
        log_event(LogLevel::Warning, "send-capped", reached,
                  {{"USER", attempt->user}, {"RHOST", attempt->rhost}});
        // A cap ends the send: falling back to another contact would defeat the cap.
        attempt->done(Error(Errc::RateLimited,
                            reached == kTestBudgetReached ? kTestBudgetReached
                                                          : "too many codes were sent recently",
                            reservation->room_at));
        return;
    }
    OutgoingMessage message{target.kind,
                            target.destination,
                            attempt->user,
                            attempt->text.clone(),
                            attempt->code_policy.lifetime,
                            attempt->language};
    target.channel->send(message,
                         [this, attempt, &target, reservation = std::move(*reservation)](
                             Result<void> sent) { on_sent(attempt, target, reservation, sent); });
}

void CodeSender::on_sent(const std::shared_ptr<Attempt>& attempt, const Target& target,
                         const SendReservation& reservation, const Result<void>& sent) {
    const char* kind = policy::to_string(target.kind);
    if (!sent) {
        attempt->last_error = sent.error().what();
        log_event(LogLevel::Error, "delivery-failed",
                  "channel could not deliver: " + attempt->last_error,
                  {{"USER", attempt->user},
                   {"CHANNEL", target.channel_name},
                   {"KIND", kind},
                   {"RETRYABLE", retryable(sent.error()) ? "yes" : "no"}});
        // Not sent: the reservation goes back before the next channel reserves its own.
        release(reservation, [this, attempt] { advance(attempt); });
        return;
    }
    if (attempt->purpose != CodePurpose::Test) {
        log_event(LogLevel::Info, "code-sent", "code sent",
                  {{"USER", attempt->user}, {"CHANNEL", target.channel_name}, {"KIND", kind}});
    }
    std::string shown = target.kind == policy::Kind::Notification
                            ? std::string("your workplace account")
                            : mask_contact(contact_kind_for(target.kind), target.destination);
    std::optional<policy::Kind> instead_of;
    if (attempt->targets.front().kind != target.kind) {
        instead_of = attempt->targets.front().kind;
    }
    attempt->done(Delivered{target.channel_name, target.kind, shown, instead_of});
}

void CodeSender::release(const SendReservation& reservation, const std::function<void()>& next) {
    store_.release_send(reservation, [next](Result<void> released) {
        if (!released) {
            // Kept counted: a send that cannot be given back errs towards the cap.
            log_event(
                LogLevel::Error, "store-failed",
                std::string("cannot give back a send that failed: ") + released.error().what());
        }
        next();
    });
}

void CodeSender::send_login_code(const std::string& user, const policy::Policy& policy,
                                 const policy::UserPolicy& user_policy, const UserState& state,
                                 const SecretString& code, Done<Delivered> done,
                                 CodePurpose purpose, const std::string& rhost,
                                 std::optional<Language> language) {
    Language in = language.value_or(user_policy.language);
    send_to_login_targets(user, policy, user_policy, state,
                          {compose(purpose, code, user_policy.code, in), in}, std::move(done),
                          purpose, rhost);
}

void CodeSender::send_test_message(uid_t admin, const std::string& user,
                                   const policy::Policy& policy,
                                   const policy::UserPolicy& user_policy, const UserState& state,
                                   const std::string& text, Done<Delivered> done) {
    send_to_login_targets(user, policy, user_policy, state,
                          {SecretString(text), user_policy.language}, std::move(done),
                          CodePurpose::Test, "", std::to_string(admin));
}

void CodeSender::send_to_login_targets(const std::string& user, const policy::Policy& policy,
                                       const policy::UserPolicy& user_policy,
                                       const UserState& state, Words words, Done<Delivered> done,
                                       CodePurpose purpose, const std::string& rhost,
                                       const std::string& admin) {
    auto attempt = std::make_shared<Attempt>();
    attempt->user = user;
    attempt->rhost = rhost;
    attempt->admin = admin;
    attempt->purpose = purpose;
    attempt->code_policy = user_policy.code;
    attempt->text = std::move(words.text);
    attempt->language = words.language;
    attempt->done = std::move(done);
    attempt->targets = login_targets(user, policy, user_policy, state);
    advance(attempt);
}

void CodeSender::send_confirmation(const std::string& user, const policy::Policy& policy,
                                   const policy::UserPolicy& user_policy, const Contact& contact,
                                   const SecretString& code, Done<Delivered> done) {
    auto attempt = std::make_shared<Attempt>();
    attempt->user = user;
    attempt->purpose = CodePurpose::ConfirmContact;
    attempt->code_policy = user_policy.code;
    attempt->text =
        compose(CodePurpose::ConfirmContact, code, user_policy.code, user_policy.language);
    attempt->language = user_policy.language;
    attempt->done = std::move(done);
    add_targets(attempt->targets, policy,
                contact.kind == "phone" ? policy::Kind::Sms : policy::Kind::Email, contact.value);
    advance(attempt);
}

bool CodeSender::reachable(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                           const UserState& state) const {
    for (policy::Kind kind : user_policy.code.channels) {
        if (policy.channels_for(kind).empty()) {
            continue;
        }
        if (kind == policy::Kind::Notification) {
            return true;
        }
        const Contact* contact = state.contact(contact_kind_for(kind));
        if (contact != nullptr &&
            (kind != policy::Kind::Sms || sms_prefix_allowed(user_policy.code, contact->value))) {
            return true;
        }
    }
    return false;
}

}  // namespace lwauth
