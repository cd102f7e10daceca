// LINE approvals on lwauthd's HTTP endpoint: the short link that sends the phone to
// LINE's authorization page, LINE's callback (token exchange and ID-token checks) and the
// confirmation page where the phone's user picks the number the terminal shows. Everything
// runs on the sd-event loop; each approval's outcome reaches its sink once, from the loop.
//
// Routes, under the path of [line] public_url (a proxy forwards paths unchanged):
//   GET  PREFIX/l?k=TOKEN     the short link: single use, 303 to LINE's authorize URL
//   GET  PREFIX/line/callback LINE's redirect (LinePolicy::redirect_uri())
//   POST PREFIX/line/confirm  the confirmation page's form: `confirm` (one-time) and `number`
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "clock.hpp"
#include "codes.hpp"
#include "http/http_client.hpp"
#include "http/server.hpp"
#include "line/approvals.hpp"
#include "line/flows_pages.hpp"
#include "line/jose.hpp"
#include "line/links.hpp"
#include "line/oidc.hpp"
#include "line/subject.hpp"
#include "lwauth/policy.hpp"
#include "timers.hpp"

namespace lwauth::line {

/// The short link's path below public_url's path, and the confirmation form's.
inline constexpr std::string_view kShortLinkPath = "/l";
inline constexpr std::string_view kConfirmPath = "/line/confirm";

/// Whether `line` names a channel, its secret and the URL the phone reaches: what an
/// approval needs. lwauthd opens the endpoint at start when it does.
[[nodiscard]] bool line_configured(const policy::LinePolicy& line);

/// What lwauthd gives LineFlows besides the policy; each must outlive it.
struct FlowsDeps {
    sd_event* event;
    http::Client& client;
    const Clock& clock;
    RandomSource& random;
    Timers& timers;
    const Hasher& host_hasher;  // the host's code.key: the subject hash's key by default
};

struct FlowsOptions {
    size_t max_waiting = 64;  // approvals waiting at once; more are refused Unavailable
    std::chrono::milliseconds token_timeout{10000};  // each request to LINE (token, JWKS)
    SecretReader secret_reader;  // who reads channel_secret_file and subject_key_file
    std::string hostname;    // shown on the confirmation page; empty: gethostname()
};

/// This host's name (gethostname), or "this host" when it cannot be read.
[[nodiscard]] std::string host_name();

/// What the flows did since they started (for tests and the log-free view of an operator).
struct FlowStats {
    uint64_t links_opened = 0;  // short links taken (redirected to LINE)
    uint64_t callbacks = 0;     // callbacks that matched a waiting approval
    uint64_t jwks_fetches = 0;  // JWKS documents fetched
    size_t waiting = 0;         // approvals waiting now
};

class LineFlows final : public LineApprovals {
  public:
    /// Reads [line]'s secrets (channel_secret_file, subject_key_file) and, when `policy`'s
    /// [line] is configured (line_configured()), listens on [line] listen. Throws Error:
    /// Unavailable when the address cannot be bound, Internal when a secret file cannot be
    /// used. Without [line], it listens nowhere and configured() is false.
    LineFlows(FlowsDeps deps, const policy::Policy& policy, FlowsOptions options = {});
    ~LineFlows() override;
    LineFlows(const LineFlows&) = delete;
    LineFlows& operator=(const LineFlows&) = delete;

    /// Takes a reloaded policy for the approvals offered from now on (those waiting keep
    /// theirs). `listen` and `public_url` are read at start only: a change is logged and
    /// waits for a restart, as is a [line] that appears in a daemon started without it.
    /// An error (a secret file that cannot be read) keeps the settings that run.
    Result<void> set_policy(const policy::Policy& policy);

    [[nodiscard]] bool configured() const override;
    Result<ApprovalOffer> offer(const ApprovalRequest& request, OutcomeSink sink) override;
    void withdraw(const std::string& owner) override;

    /// The port listened on (0 when nothing is).
    [[nodiscard]] uint16_t port() const { return server_ ? server_->port() : 0; }
    /// The endpoint, whose routes are the flows' handlers; nullptr when nothing listens.
    [[nodiscard]] const http::Server* server() const { return server_.get(); }
    [[nodiscard]] FlowStats stats() const;

    struct Config;
    struct Approval;

  private:
    void add_routes();
    void open_link(const http::IncomingRequest& request, const http::Reply& reply);
    void callback(const http::IncomingRequest& request, const http::Reply& reply);
    void confirm(const http::IncomingRequest& request, const http::Reply& reply);
    void exchange(uint64_t id, const std::string& code);
    void token_answered(uint64_t id, const http::Response& response);
    void check_id_token(uint64_t id, const SecretString& id_token, bool refetched);
    void fetch_jwks(uint64_t id, SecretString id_token);
    void ask_number(Approval& approval, const std::string& subject_hash);
    void finish(uint64_t id, ApprovalOutcome outcome, const PageText& text, unsigned status = 200);
    Approval* find(uint64_t id);
    void forget(Approval& approval);
    // A number from 0 to bound - 1, each equally likely.
    int draw(int bound);

    FlowsDeps deps_;
    FlowsOptions options_;
    std::shared_ptr<const Config> config_;  // null: [line] not configured
    std::string prefix_;                    // public_url's path at start, without a trailing /
    std::string started_public_url_;
    std::string started_listen_;
    int started_per_address_ = 0;  // the endpoint's connections per client address
    std::unique_ptr<http::Server> server_;
    Links links_;     // short links: token -> approval
    Links confirms_;  // confirmation forms: one-time token -> approval
    std::map<std::string, uint64_t> states_;  // SHA-256 of an OAuth state -> approval
    std::map<uint64_t, std::unique_ptr<Approval>> approvals_;
    uint64_t next_id_ = 1;
    std::optional<Jwks> jwks_;
    std::string jwks_url_;  // the URL jwks_ came from
    FlowStats stats_;
};

}  // namespace lwauth::line
