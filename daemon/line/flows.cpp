#include "line/flows.hpp"

#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <utility>
#include <vector>

#include "line/flows_pages.hpp"
#include "line/id_token.hpp"
#include "line/pkce.hpp"
#include "log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

struct LineFlows::Config {
    policy::LinePolicy line;
    ClientConfig client;
    SecretString channel_secret;
    SubjectHasher subjects;
};

struct LineFlows::Approval {
    uint64_t id = 0;
    ApprovalRequest request;
    OutcomeSink sink;
    std::shared_ptr<const Config> config;
    AuthRequest auth;
    int number = 0;
    int64_t created_at = 0;
    int64_t expires_at = 0;
    std::unique_ptr<Timer> expiry;
    std::optional<http::Reply> reply;  // the phone's request waiting for the token exchange
    std::string subject_hash;          // once LINE's ID token is verified
    std::vector<std::string> old_subject_hashes;  // the same under the earlier keys
    Language page_language = Language::En;  // the phone browser's, from its latest request
};

namespace {

using http::Answer;

std::string digest(std::string_view value) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
    SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), out.data());
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

std::string without_trailing_slash(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url;
}

// The path of `url` ("https://host/lwauth/" -> "/lwauth"), "" for none.
std::string path_of(const std::string& url) {
    auto scheme = url.find("://");
    auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "" : without_trailing_slash(url.substr(slash));
}

// Plain http only to the loopback URLs the policy loader lets through (the tests' fake).
std::string protocols_for(const std::string& url) {
    return url.rfind("http://", 0) == 0 ? "http" : "https";
}

std::optional<uint64_t> id_of(const std::string& owner) {
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(owner.data(), owner.data() + owner.size(), id);
    if (ec != std::errc() || end != owner.data() + owner.size()) {
        return std::nullopt;
    }
    return id;
}

std::optional<int> number_of(const std::map<std::string, std::string>& form) {
    auto it = form.find("number");
    int n = 0;
    if (it == form.end()) {
        return std::nullopt;
    }
    const std::string& text = it->second;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return n;
}

const std::string* query_value(const http::IncomingRequest& request, const char* name) {
    auto it = request.query.find(name);
    return it == request.query.end() ? nullptr : &it->second;
}

// `why` is English, marked N_(): the login and lwauthctl translate it as they show it.
ApprovalOutcome outcome(ApprovalOutcome::Kind kind, std::string why, bool counts) {
    ApprovalOutcome out;
    out.kind = kind;
    out.why = std::move(why);
    out.counts_as_failure = counts;
    return out;
}

const char* event_of(ApprovalOutcome::Kind kind) {
    switch (kind) {
        case ApprovalOutcome::Kind::Approved:
            return "line-approved";
        case ApprovalOutcome::Kind::Refused:
            return "line-refused";
        case ApprovalOutcome::Kind::Expired:
            return "line-expired";
        case ApprovalOutcome::Kind::Failed:
            break;
    }
    return "line-failed";
}

// The page of every flow that could not complete.
const PageText kCouldNotComplete = {
    N_("Could not complete"),
    N_("The login could not be completed with LINE. Return to your terminal.")};

// The language of a page for a request that names no approval (an unknown link): the
// browser's, else English, since no user is known.
Language page_language_of(const http::IncomingRequest& request) {
    return page_language(request.accept_language, Language::En);
}

}  // namespace

std::string host_name() {
    std::array<char, 256> name{};
    if (gethostname(name.data(), name.size() - 1) != 0) {
        return "this host";
    }
    return name.data();
}

bool line_configured(const policy::LinePolicy& line) {
    return !line.channel_id.empty() && !line.channel_secret_file.empty() &&
           !line.public_url.empty();
}

namespace {

std::shared_ptr<const LineFlows::Config> make_config(const policy::LinePolicy& line,
                                                     const Hasher& host, const SecretReader& reader) {
    ClientConfig client;
    client.channel_id = line.channel_id;
    client.redirect_uri = line.redirect_uri();
    client.authorize_url = line.authorize_url;
    client.token_url = line.token_url;
    client.issuer = line.issuer;
    client.id_token_alg = line.id_token_alg;
    if (line.max_age.count() > 0) {
        client.max_age = line.max_age;
    }
    SecretString secret = read_secret_file(line.channel_secret_file.string(), reader);
    if (secret.empty()) {
        throw Error(Errc::Internal,
                    "[line] channel_secret_file " + line.channel_secret_file.string() + " is empty");
    }
    return std::make_shared<const LineFlows::Config>(LineFlows::Config{
        line, std::move(client), std::move(secret), subject_hasher(line, host, reader)});
}

}  // namespace

LineFlows::LineFlows(FlowsDeps deps, const policy::Policy& policy, FlowsOptions options)
    : deps_(deps),
      options_(std::move(options)),
      links_(deps.clock, deps.random, options_.max_waiting),
      confirms_(deps.clock, deps.random, options_.max_waiting) {
    if (options_.hostname.empty()) {
        options_.hostname = host_name();
    }
    if (!line_configured(policy.line)) {
        return;
    }
    started_public_url_ = policy.line.public_url;
    started_listen_ = policy.line.listen;
    prefix_ = path_of(started_public_url_);
    config_ = make_config(policy.line, deps_.host_hasher, options_.secret_reader);
    started_per_address_ = policy.line.connections_per_address_limit();
    http::Limits limits;
    limits.max_connections = policy::LinePolicy::kMaxConnections;
    limits.max_connections_per_ip = static_cast<unsigned>(started_per_address_);
    server_ = std::make_unique<http::Server>(deps_.event, started_listen_, limits);
    add_routes();
    log_event(LogLevel::Notice, "line-listening",
              "LINE Login endpoint listening on " + started_listen_,
              {{"LISTEN", started_listen_}});
}

LineFlows::~LineFlows() = default;

Result<void> LineFlows::set_policy(const policy::Policy& policy) {
    policy::LinePolicy line = policy.line;
    if (!server_) {
        if (line_configured(line)) {
            log_event(LogLevel::Warning, "reload-partial",
                      "[line] takes effect when lwauthd restarts (it was not set up at start)");
        }
        return {};
    }
    if (!line_configured(line)) {
        config_.reset();  // offers are refused from now on; the endpoint stays for those waiting
        return {};
    }
    if (line.listen != started_listen_ || line.public_url != started_public_url_ ||
        line.connections_per_address_limit() != started_per_address_) {
        log_event(LogLevel::Warning, "reload-partial",
                  "[line] listen, public_url and connections_per_address changes take effect "
                  "when lwauthd restarts");
        line.public_url = started_public_url_;
        line.listen = started_listen_;
    }
    try {
        config_ = make_config(line, deps_.host_hasher, options_.secret_reader);
    } catch (const Error& e) {
        log_event(LogLevel::Error, "reload-partial",
                  std::string(e.what()) + "; keeping the [line] settings that are running");
        return Error(e.code(), e.what());
    }
    return {};
}

bool LineFlows::configured() const { return config_ != nullptr && server_ != nullptr; }

FlowStats LineFlows::stats() const {
    FlowStats out = stats_;
    out.waiting = approvals_.size();
    return out;
}

void LineFlows::add_routes() {
    auto bind = [this](void (LineFlows::*handler)(const http::IncomingRequest&,
                                                  const http::Reply&)) {
        return [this, handler](const http::IncomingRequest& request, http::Reply reply) {
            (this->*handler)(request, reply);
        };
    };
    server_->route(prefix_ + std::string(kShortLinkPath), http::Method::Get,
                   bind(&LineFlows::open_link));
    server_->route(prefix_ + std::string(policy::kLineCallbackPath), http::Method::Get,
                   bind(&LineFlows::callback));
    server_->route(prefix_ + std::string(kConfirmPath), http::Method::Post,
                   bind(&LineFlows::confirm));
}

int LineFlows::draw(int bound) {
    // Rejection sampling: only the values below the largest multiple of `bound` count,
    // so each result is equally likely.
    const uint32_t limit = UINT32_MAX - (UINT32_MAX % static_cast<uint32_t>(bound));
    uint32_t value = 0;
    do {
        deps_.random.fill(reinterpret_cast<uint8_t*>(&value), sizeof value);
    } while (value >= limit);
    return static_cast<int>(value % static_cast<uint32_t>(bound));
}

Result<ApprovalOffer> LineFlows::offer(const ApprovalRequest& request, OutcomeSink sink) {
    if (!configured()) {
        return Error(Errc::Unavailable, N_("LINE Login is not set up in [line]"));
    }
    if (approvals_.size() >= options_.max_waiting) {
        return Error(Errc::Unavailable, N_("too many LINE approvals are waiting; try again later"));
    }
    auto approval = std::make_unique<Approval>();
    uint64_t id = next_id_++;
    approval->id = id;
    approval->request = request;
    approval->sink = std::move(sink);
    approval->config = config_;
    approval->auth = new_auth_request(deps_.random);
    approval->number = 10 + draw(90);
    approval->created_at = deps_.clock.now();
    int64_t lifetime = config_->line.link_lifetime.count();
    auto token = links_.add(Link{std::to_string(id), {}, 0}, lifetime);
    if (!token) {
        return Error(Errc::Unavailable, token.error().what());
    }
    approval->expires_at = approval->created_at + lifetime;
    approval->expiry =
        deps_.timers.after(static_cast<uint64_t>(lifetime) * 1000 * 1000, [this, id] {
            finish(id, outcome(ApprovalOutcome::Kind::Expired, N_("the LINE link expired"), true),
                   {"Expired", "This login has expired. Return to your terminal."});
        });
    ApprovalOffer offered;
    offered.url = without_trailing_slash(config_->line.public_url) + std::string(kShortLinkPath) +
                  "?k=" + *token;
    offered.number = approval->number;
    offered.expires_at = approval->expires_at;
    approvals_.emplace(id, std::move(approval));
    return offered;
}

void LineFlows::withdraw(const std::string& owner) {
    std::vector<uint64_t> ids;
    for (const auto& [id, approval] : approvals_) {
        if (approval->request.owner == owner) {
            ids.push_back(id);
        }
    }
    for (uint64_t id : ids) {
        Approval& approval = *approvals_.at(id);
        if (approval.reply) {
            approval.reply->send(Answer::html(
                200, render_page(
                         {N_("Login ended"), N_("This login has ended. Return to your terminal.")},
                         approval.page_language)));
        }
        forget(approval);
    }
}

LineFlows::Approval* LineFlows::find(uint64_t id) {
    auto it = approvals_.find(id);
    return it == approvals_.end() ? nullptr : it->second.get();
}

void LineFlows::forget(Approval& approval) {
    std::string owner = std::to_string(approval.id);
    links_.remove_owner(owner);
    confirms_.remove_owner(owner);
    std::erase_if(states_, [&](const auto& entry) { return entry.second == approval.id; });
    approvals_.erase(approval.id);  // drops the timer too, also from inside its callback
}

void LineFlows::finish(uint64_t id, ApprovalOutcome result, const PageText& text,
                       unsigned status) {
    Approval* approval = find(id);
    if (approval == nullptr) {
        return;
    }
    OutcomeSink sink = std::move(approval->sink);
    Language page_language = approval->page_language;
    std::optional<http::Reply> reply = std::move(approval->reply);
    log_event(result.kind == ApprovalOutcome::Kind::Approved ? LogLevel::Info : LogLevel::Notice,
              event_of(result.kind), result.kind == ApprovalOutcome::Kind::Approved
                                         ? "a LINE approval was given"
                                         : "a LINE approval ended: " + result.why);
    forget(*approval);
    if (reply) {
        reply->send(Answer::html(status, render_page(text, page_language)));
    }
    if (sink) {
        sink(result);
    }
}

void LineFlows::open_link(const http::IncomingRequest& request, const http::Reply& reply) {
    if (request.method == "HEAD") {
        // A link preview (a messenger fetching the URL) must not use the link up.
        reply.send(Answer::html(200, ""));
        return;
    }
    const std::string* token = query_value(request, "k");
    Approval* approval = nullptr;
    if (token != nullptr) {
        auto link = links_.take(*token);
        if (link) {
            auto id = id_of(link->owner);
            approval = id ? find(*id) : nullptr;
        }
    }
    if (approval == nullptr) {
        reply.send(Answer::html(
            404, render_page({N_("Link not valid"),
                              N_("This link cannot be used: it was opened already, it expired, or "
                                 "its login ended. Start again from your terminal.")},
                             page_language_of(request))));
        return;
    }
    approval->page_language = page_language(request.accept_language, approval->request.language);
    ++stats_.links_opened;
    states_[digest(approval->auth.state)] = approval->id;
    reply.send(Answer::redirect(authorize_url(approval->config->client, approval->auth)));
}

void LineFlows::callback(const http::IncomingRequest& request, const http::Reply& reply) {
    const std::string* state = query_value(request, "state");
    auto it = state == nullptr ? states_.end() : states_.find(digest(*state));
    if (it == states_.end()) {
        // Unknown, replayed or withdrawn: nothing changes.
        reply.send(Answer::html(
            400, render_page({N_("Not valid"), N_("This sign-in is not valid or was used already. "
                                                  "Start again from your terminal.")},
                             page_language_of(request))));
        return;
    }
    uint64_t id = it->second;
    states_.erase(it);
    Approval& approval = *approvals_.at(id);
    ++stats_.callbacks;
    approval.reply = reply;
    approval.page_language = page_language(request.accept_language, approval.request.language);
    if (const std::string* error = query_value(request, "error")) {
        if (*error == "ACCESS_DENIED") {
            finish(id, outcome(ApprovalOutcome::Kind::Refused, N_("refused in LINE"), true),
                   {N_("Login refused"), N_("You refused in LINE: the login is refused. "
                                            "Return to your terminal.")});
        } else {
            finish(id, outcome(ApprovalOutcome::Kind::Failed, N_("LINE could not sign in"), false),
                   kCouldNotComplete);
        }
        return;
    }
    const std::string* code = query_value(request, "code");
    if (code == nullptr || code->empty()) {
        finish(id, outcome(ApprovalOutcome::Kind::Failed, N_("LINE sent no code"), false),
               kCouldNotComplete);
        return;
    }
    exchange(id, *code);
}

void LineFlows::exchange(uint64_t id, const std::string& code) {
    Approval& approval = *approvals_.at(id);
    const Config& config = *approval.config;
    http::Request request =
        token_request(config.client, config.channel_secret, SecretString(code), approval.auth);
    request.timeout = options_.token_timeout;
    request.ca_file = config.line.ca_file;
    request.proxy = config.line.proxy;
    request.protocols = protocols_for(request.url);
    deps_.client.perform(std::move(request),
                         [this, id](http::Response response) { token_answered(id, response); });
}

void LineFlows::token_answered(uint64_t id, const http::Response& response) {
    if (find(id) == nullptr) {
        return;  // withdrawn or expired meanwhile
    }
    auto answer = parse_token_answer(response);
    if (!answer) {
        log_event(LogLevel::Warning, "line-token-failed", answer.error().what());
        finish(id,
               outcome(ApprovalOutcome::Kind::Failed, N_("LINE's token endpoint failed"), false),
               kCouldNotComplete);
        return;
    }
    check_id_token(id, answer->id_token, false);
}

void LineFlows::check_id_token(uint64_t id, const SecretString& id_token, bool refetched) {
    Approval& approval = *approvals_.at(id);
    const Config& config = *approval.config;
    IdTokenKeys keys{&config.channel_secret, nullptr};
    if (config.client.id_token_alg == IdTokenAlg::Es256) {
        if (!jwks_ || jwks_url_ != config.line.jwks_url) {
            fetch_jwks(id, id_token.clone());
            return;
        }
        keys.jwks = &*jwks_;
    }
    auto verified = verify_id_token(
        id_token, expected_for(config.client, approval.auth, deps_.clock.now()), keys);
    if (!verified && verified.error().code() == Errc::NotFound && !refetched) {
        fetch_jwks(id, id_token.clone());  // LINE may have rotated its keys
        return;
    }
    if (!verified) {
        log_event(LogLevel::Warning, "line-id-token-refused", verified.error().what());
        bool forged = verified.error().code() != Errc::InvalidArgument;
        finish(id,
               outcome(ApprovalOutcome::Kind::Failed, N_("LINE's ID token did not verify"), forged),
               kCouldNotComplete);
        return;
    }
    approval.old_subject_hashes =
        config.subjects.old_hashes(config.client.channel_id, verified->sub.view());
    ask_number(approval, config.subjects.hash(config.client.channel_id, verified->sub.view()));
}

void LineFlows::fetch_jwks(uint64_t id, SecretString id_token) {
    const Config& config = *approvals_.at(id)->config;
    http::Request request;
    request.method = "GET";
    request.url = config.line.jwks_url;
    request.headers = {"Accept: application/json"};
    request.timeout = options_.token_timeout;
    request.ca_file = config.line.ca_file;
    request.proxy = config.line.proxy;
    request.protocols = protocols_for(request.url);
    ++stats_.jwks_fetches;
    auto token = std::make_shared<SecretString>(std::move(id_token));
    deps_.client.perform(std::move(request), [this, id, token,
                                              url = config.line.jwks_url](http::Response answer) {
        if (find(id) == nullptr) {
            return;
        }
        auto parsed = answer.status == 200
                          ? parse_jwks(answer.body)
                          : Result<Jwks>(Error(Errc::Unavailable,
                                               "LINE's keys could not be fetched (HTTP " +
                                                   std::to_string(answer.status) + ")"));
        if (!parsed) {
            log_event(LogLevel::Warning, "line-jwks-failed", parsed.error().what());
            finish(id,
                   outcome(ApprovalOutcome::Kind::Failed, N_("LINE's keys are unavailable"), false),
                   kCouldNotComplete);
            return;
        }
        jwks_ = std::move(*parsed);
        jwks_url_ = url;
        check_id_token(id, *token, true);
    });
}

void LineFlows::ask_number(Approval& approval, const std::string& subject_hash) {
    approval.subject_hash = subject_hash;
    int64_t left = std::max<int64_t>(1, approval.expires_at - deps_.clock.now());
    auto token = confirms_.add(Link{std::to_string(approval.id), {}, 0}, left);
    if (!token) {
        finish(approval.id,
               outcome(ApprovalOutcome::Kind::Failed, N_("too many LINE approvals waiting"), false),
               kCouldNotComplete);
        return;
    }
    std::array<int, 3> choices{approval.number, 0, 0};
    for (size_t i = 1; i < choices.size(); ++i) {
        do {
            choices[i] = 10 + draw(90);
        } while (std::find(choices.begin(), choices.begin() + static_cast<long>(i), choices[i]) !=
                 choices.begin() + static_cast<long>(i));
    }
    for (size_t i = choices.size() - 1; i > 0; --i) {  // Fisher-Yates
        std::swap(choices[i], choices[static_cast<size_t>(draw(static_cast<int>(i) + 1))]);
    }
    ConfirmPage page;
    page.link = approval.request.purpose == ApprovalRequest::Purpose::Link;
    page.user = approval.request.user;
    page.host = options_.hostname;
    page.service = approval.request.service;
    page.rhost = approval.request.rhost;
    page.started_at = approval.created_at;
    page.action = prefix_ + std::string(kConfirmPath);
    page.confirm_token = *token;
    page.choices = {choices.begin(), choices.end()};
    std::optional<http::Reply> reply = std::move(approval.reply);
    approval.reply.reset();
    if (reply) {
        reply->send(Answer::html(200, render_confirm_page(page, approval.page_language)));
    }
}

void LineFlows::confirm(const http::IncomingRequest& request, const http::Reply& reply) {
    auto field = request.form.find("confirm");
    Approval* approval = nullptr;
    if (field != request.form.end()) {
        auto link = confirms_.take(field->second);
        if (link) {
            auto id = id_of(link->owner);
            approval = id ? find(*id) : nullptr;
        }
    }
    if (approval == nullptr) {
        reply.send(Answer::html(
            400,
            render_page({N_("Not valid"), N_("This confirmation is not valid or was sent already. "
                                             "Return to your terminal.")},
                        page_language_of(request))));
        return;
    }
    approval->reply = reply;
    approval->page_language = page_language(request.accept_language, approval->request.language);
    if (number_of(request.form) == approval->number) {
        ApprovalOutcome approved = outcome(ApprovalOutcome::Kind::Approved, "", false);
        approved.subject_hash = approval->subject_hash;
        approved.old_subject_hashes = approval->old_subject_hashes;
        finish(approval->id, std::move(approved),
               {N_("Approved"), N_("The login is approved. Return to your terminal.")});
        return;
    }
    finish(approval->id,
           outcome(ApprovalOutcome::Kind::Refused, N_("the wrong number was picked in LINE"), true),
           {N_("Wrong number"), N_("That is not the number on your terminal: the login is refused. "
                                   "Return to your terminal.")});
}

}  // namespace lwauth::line
