// Linking a LINE account to one's own (Account.LinkLine, LineLinkStatus, UnlinkLine):
// the approval itself is LineApprovals' (line/approvals.hpp); here are who may ask, what
// the connection is told, and what is stored: the keyed hash of the LINE account alone.
#include "account.hpp"
#include "log.hpp"
#include "lwauth/bus_texts.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

// How a link that did not happen is logged, and what the user is told when LINE's side
// gave no line of its own.
const char* outcome_name(LineLinkState state) {
    switch (state) {
        case LineLinkState::Refused:
            return "refused";
        case LineLinkState::Expired:
            return "expired";
        default:
            return "failed";
    }
}

std::string default_why(LineLinkState state) {
    switch (state) {
        case LineLinkState::Refused:
            return N_("the link was refused in LINE");
        case LineLinkState::Expired:
            return N_("the link expired before it was approved in LINE");
        default:
            return N_("LINE could not be reached or did not prove the account; try again later");
    }
}

LineLinkState state_of(line::ApprovalOutcome::Kind kind) {
    switch (kind) {
        case line::ApprovalOutcome::Kind::Approved:
            return LineLinkState::Linked;
        case line::ApprovalOutcome::Kind::Refused:
            return LineLinkState::Refused;
        case line::ApprovalOutcome::Kind::Expired:
            return LineLinkState::Expired;
        case line::ApprovalOutcome::Kind::Failed:
            break;
    }
    return LineLinkState::Failed;
}

}  // namespace

void AccountService::link_line(const std::string& user, const std::string& owner,
                               Done<line::ApprovalOffer> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        if (!up.login_with_line) {
            throw Error(Errc::NotEnabled,
                        N_("logging in with LINE is not enabled for your account on this host"));
        }
        if (line_ == nullptr || !line_->configured()) {
            throw Error(Errc::NotEnabled,
                        policy_->admin_contact.empty()
                            ? N_("LINE Login is not set up in lwauthd here; ask your administrator")
                            : bus_text(bus_texts::kLineNotSetUp, {policy_->admin_contact}));
        }
        if (owner.empty()) {
            throw Error(Errc::AccessDenied, N_("the caller's bus connection has no name"));
        }
        store_.load_user(user, then<UserState>(done, [=, this](const UserState& state) {
                             // A new way in without a code: as strong a change as a contact.
                             require_reauth(user, owner, up, state, N_("linking LINE"));
                             done(offer_line_link(user, owner));
                         }));
    });
}

Result<line::ApprovalOffer> AccountService::offer_line_link(const std::string& user,
                                                            const std::string& owner) {
    // One link at a time per connection: asking again replaces the one in progress.
    if (line_links_.erase(owner) > 0) {
        line_->withdraw(owner);
    }
    uint64_t serial = ++line_serial_;
    line::ApprovalRequest request;
    request.purpose = line::ApprovalRequest::Purpose::Link;
    request.user = user;
    request.service = "lwauthctl";
    request.owner = owner;
    request.language = user_policy(user).language;
    auto offer = line_->offer(request, [this, owner, serial](const line::ApprovalOutcome& o) {
        line_link_outcome(owner, serial, o);
    });
    if (!offer) {
        return offer;
    }
    line_links_[owner] = LineLink{user, {LineLinkState::Waiting, ""}, serial};
    log_event(LogLevel::Info, "line-link-started", "a link to a LINE account was offered",
              {{"USER", user}});
    return offer;
}

void AccountService::line_link_outcome(const std::string& owner, uint64_t serial,
                                       const line::ApprovalOutcome& outcome) {
    auto it = line_links_.find(owner);
    if (it == line_links_.end() || it->second.serial != serial) {
        return;
    }
    std::string user = it->second.user;
    LineLinkState state = state_of(outcome.kind);
    if (state == LineLinkState::Linked && outcome.subject_hash.empty()) {
        state = LineLinkState::Failed;  // an approval with no account: nothing to link
    }
    if (state != LineLinkState::Linked) {
        end_line_link(owner, serial, state, outcome.why.empty() ? default_why(state) : outcome.why);
        return;
    }
    store_.set_line_link(user, outcome.subject_hash, [this, owner, serial](Result<void> saved) {
        if (!saved) {
            log_event(LogLevel::Error, "internal-error",
                      std::string("the LINE link could not be saved: ") + saved.error().what());
            end_line_link(owner, serial, LineLinkState::Failed,
                          N_("the link could not be saved; try again later"));
            return;
        }
        end_line_link(owner, serial, LineLinkState::Linked, "");
    });
}

void AccountService::end_line_link(const std::string& owner, uint64_t serial,
                                   LineLinkState state, const std::string& why) {
    auto it = line_links_.find(owner);
    if (it == line_links_.end() || it->second.serial != serial ||
        it->second.status.state != LineLinkState::Waiting) {
        return;
    }
    it->second.status = {state, why};
    if (state == LineLinkState::Linked) {
        log_event(LogLevel::Notice, "line-linked",
                  "a LINE account was linked to the user; it replaces any earlier link",
                  {{"USER", it->second.user}});
    } else {
        log_event(LogLevel::Info, "line-link-ended",
                  std::string("linking a LINE account ended: ") + outcome_name(state),
                  {{"USER", it->second.user}});
    }
}

LineLinkStatus AccountService::line_link_status(const std::string& user,
                                                const std::string& owner) {
    auto it = line_links_.find(owner);
    if (it == line_links_.end() || it->second.user != user) {
        return {};
    }
    LineLinkStatus status = it->second.status;
    if (status.state != LineLinkState::Waiting) {
        line_links_.erase(it);  // told once
    }
    return status;
}

void AccountService::unlink_line(const std::string& user, const std::string& owner,
                                 Done<bool> done) {
    settle(done, [&] {
        auto it = line_links_.find(owner);
        if (it != line_links_.end() && it->second.user == user) {
            line_links_.erase(it);
            if (line_ != nullptr) {
                line_->withdraw(owner);
            }
        }
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                bool was_linked = state.line_linked;
                store_.set_line_link(user, "", then<void>(done, [user, was_linked, done] {
                                         if (was_linked) {
                                             log_event(LogLevel::Notice, "line-unlinked",
                                                       "the user unlinked their LINE account",
                                                       {{"USER", user}});
                                         }
                                         done(was_linked);
                                     }));
            }));
    });
}

void AccountService::withdraw_line_links(const std::string& user) {
    for (auto& [owner, link] : line_links_) {
        if (link.user == user && link.status.state == LineLinkState::Waiting) {
            if (line_ != nullptr) {
                line_->withdraw(owner);
            }
            link.status = {LineLinkState::Failed, "your administrator reset your LINE link"};
        }
    }
}

void AccountService::forget_line_link(const std::string& owner) {
    if (line_links_.erase(owner) > 0 && line_ != nullptr) {
        line_->withdraw(owner);
    }
}

}  // namespace lwauth
