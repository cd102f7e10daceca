// An approval in LINE: what the LINE login method and the linking of an account ask for,
// and what answers them. `LineFlows` (flows.hpp) serves the short link, LINE's callback
// and the confirmation page on lwauthd's HTTP endpoint; whoever asks gets the outcome
// once, on the loop. The interface keeps the method and the account service apart from
// HTTP, OpenID Connect and the fake provider of the tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lwauth/i18n.hpp"
#include "lwauth/result.hpp"

namespace lwauth::line {

/// What an approval is for, as the phone's page shows it (RFC 10027: the phone's user must
/// see which login they approve).
struct ApprovalRequest {
    enum class Purpose { Login, Link };
    Purpose purpose = Purpose::Login;
    std::string user;     // the local user
    std::string service;  // the PAM service ("sshd"), or "lwauthctl" for a link
    std::string rhost;    // the remote address of the login, "" when local
    /// Who the approval belongs to: the login id, or the bus connection that links. A
    /// login that ends or a client that leaves withdraws its approvals by this name.
    std::string owner;
    /// The language of the login or the user's policy: the phone's pages speak it when
    /// the browser asks for no language lwauth has.
    Language language = Language::En;
};

/// What the terminal shows: open `url` (or scan it) on the phone, then pick `number` on
/// the page.
struct ApprovalOffer {
    std::string url;         // the short link, under [line] public_url; single use
    int number = 0;          // 10-99
    int64_t expires_at = 0;  // the daemon's clock: [line] link_lifetime from now
};

struct ApprovalOutcome {
    enum class Kind {
        Approved,  // LINE proved an account and the right number was picked
        Refused,   // the phone's user refused (ACCESS_DENIED), or picked a wrong number
        Expired,   // link_lifetime passed first
        Failed,    // LINE or the endpoint failed (token endpoint down, a bad ID token...)
    };
    Kind kind = Kind::Failed;
    /// Approved only: the keyed hash of LINE's `sub` (subject.hpp), never `sub` itself.
    std::string subject_hash;
    /// Approved only: the same hash under each earlier key ([line] subject_old_key_files),
    /// so that a link made before a rotation still matches; empty without them.
    std::vector<std::string> old_subject_hashes;
    /// Not Approved: one line for the user; no token, code or LINE identity in it.
    std::string why;
    /// Whether it counts as a failed login (a wrong number, a refusal, a token that did not
    /// verify, a link left to expire); LINE or the endpoint failing does not.
    bool counts_as_failure = false;
};

using OutcomeSink = std::function<void(const ApprovalOutcome&)>;

class LineApprovals {
  public:
    virtual ~LineApprovals() = default;
    /// Whether [line] is set up (channel, secret, public URL) so that an offer can work.
    [[nodiscard]] virtual bool configured() const = 0;
    /// Starts an approval. `sink` runs exactly once, on the loop and never before offer()
    /// has returned, unless the approval is withdrawn first. Errors: Unavailable (not
    /// configured, too many approvals waiting).
    virtual Result<ApprovalOffer> offer(const ApprovalRequest& request, OutcomeSink sink) = 0;
    /// Withdraws every approval of `owner`; their sinks never run. Unknown owners are
    /// ignored.
    virtual void withdraw(const std::string& owner) = 0;
};

}  // namespace lwauth::line
