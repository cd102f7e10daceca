#include "directory/directory_sync.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>

#include "account.hpp"
#include "directory/ldap_directory.hpp"
#include "log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/files.hpp"
#include "lwauth/sd_bus.hpp"
#include "lwauth/users.hpp"

namespace lwauth {

namespace {

constexpr uint64_t kUsecPerSec = 1000 * 1000;
constexpr const char* kKinds[] = {"phone", "email"};

// The host's users as NSS lists them. getpwent() keeps its place in a global: only the
// directory's own thread calls it.
std::vector<std::string> host_users() {
    std::vector<std::string> users;
    setpwent();
    while (passwd* pw = getpwent()) {
        users.emplace_back(pw->pw_name);
    }
    endpwent();
    return users;
}

// The directory's value of `kind` in the form lwauth keeps it; none when the directory
// has none or one lwauth cannot use (no number to send to is better than a wrong one).
std::optional<std::string> wanted(const DirectoryEntry& entry, const std::string& kind) {
    const std::optional<std::string>& raw = kind == "phone" ? entry.phone : entry.email;
    if (!entry.found || !raw) {
        return std::nullopt;
    }
    try {
        return normalized_contact(kind, *raw);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// Runs `steps` one after another, each with a Done of its own; `done` after the last.
using WriteStep = std::function<void(Done<void>)>;
void run_in_order(std::shared_ptr<std::vector<WriteStep>> steps, size_t i, Done<void> done) {
    if (i == steps->size()) {
        done(Result<void>::success());
        return;
    }
    (*steps)[i](then<void>(done, [steps, i, done] { run_in_order(steps, i + 1, done); }));
}

// The writes that make the store's contacts of `user` what the directory says.
void plan(const DirectoryEntry& entry, const UserState& state, AsyncStore& store,
          std::vector<WriteStep>& steps) {
    const std::string user = entry.user;
    for (const std::string kind : kKinds) {
        std::optional<std::string> value = wanted(entry, kind);
        const Contact* profile = state.profile_contact(kind);
        const Contact* login = state.contact(kind);
        if (value) {
            Contact contact{kind, *value, "admin"};
            const bool new_profile = profile == nullptr || profile->value != *value;
            const bool new_login = login == nullptr || login->value != *value;
            if (new_profile && new_login) {
                // One step: no failure between the two leaves the profile showing a number
                // the codes do not go to.
                steps.push_back([&store, user, contact](Done<void> d) {
                    store.save_profile_and_login_contact(user, contact, std::move(d));
                });
            } else if (new_profile) {
                steps.push_back([&store, user, contact](Done<void> d) {
                    store.set_profile_contact(user, contact, std::move(d));
                });
            } else if (new_login) {
                steps.push_back([&store, user, contact](Done<void> d) {
                    store.save_contact(user, contact, std::move(d));
                });
            }
            continue;
        }
        if (profile != nullptr || (login != nullptr && login->source != "self")) {
            // One step: no failure between the two leaves codes going to a number the
            // profile no longer shows. 2-step stays as it is: a user left without a
            // contact is refused, not let in on the password alone (fail closed).
            steps.push_back([&store, user, kind](Done<void> d) {
                store.remove_profile_and_login_contact(
                    user, kind, std::nullopt, then<bool>(std::move(d), [](bool, Done<void>& next) {
                        next(Result<void>::success());
                    }));
            });
        }
    }
}

}  // namespace

WorkerPool& DirectorySync::directory_thread() {
    if (!thread_) {
        // Made when first needed: a host without a directory has no thread for it. Two
        // may wait: a pass and a lookup of users it does not list.
        thread_ = std::make_unique<WorkerPool>(event_, 1, 2);
    }
    return *thread_;
}

DirectorySync::DirectorySync(sd_event* event, AsyncStore& store, const Clock& clock,
                             PolicyOf policy, std::string stamp)
    : event_(event), store_(store), clock_(clock), policy_(std::move(policy)), stamp_(std::move(stamp)) {
    std::ifstream in(stamp_);
    if (!(in >> last_good_) || last_good_ <= 0 || last_good_ > clock_.now()) {
        // No good pass yet: contacts present now are counted from this start (written at
        // the first pass, so that a host without a directory gets no such file).
        last_good_ = clock_.now();
        stamp_missing_ = true;
    }
    int r = sd_event_add_time_relative(event, &timer_, CLOCK_MONOTONIC, 0, kUsecPerSec, on_timer,
                                       this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot add the directory's timer: " + errno_string(r));
    }
    r = sd_event_add_defer(
        event, &lookup_soon_,
        [](sd_event_source*, void* userdata) {
            static_cast<DirectorySync*>(userdata)->start_lookups();
            return 0;
        },
        this);
    if (r < 0) {
        sd_event_source_disable_unref(timer_);
        throw Error(Errc::Internal, "cannot add the directory's lookups: " + errno_string(r));
    }
    sd_event_source_set_enabled(lookup_soon_, SD_EVENT_OFF);
}

DirectorySync::~DirectorySync() {
    *alive_ = false;
    if (pacer_) {
        pacer_->stop();  // a pass waiting on LINE WORKS' rate ends now
    }
    job_.cancel();
    lookup_job_.cancel();
    thread_.reset();
    sd_event_source_disable_unref(timer_);
    sd_event_source_disable_unref(lookup_soon_);
}

int DirectorySync::on_timer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<DirectorySync*>(userdata);
    try {
        self->pass();
    } catch (const std::exception& e) {
        self->failed(e.what());
    }
    return 0;
}

void DirectorySync::sync_now() {
    int enabled = SD_EVENT_OFF;
    sd_event_source_get_enabled(timer_, &enabled);
    if (enabled != SD_EVENT_OFF) {  // off while a pass is under way
        sd_event_source_set_time_relative(timer_, 0);
    }
}

bool DirectorySync::synchronized() const {
    auto policy = policy_();
    return policy->directory.backend != policy::DirectoryBackend::None &&
           policy->contacts == policy::Contacts::Admin;
}

void DirectorySync::look_up(const std::string& user) {
    if (!synchronized() || looked_up_.contains(user) || wanted_.contains(user) ||
        looked_up_.size() + wanted_.size() >= kMaxLookups) {
        return;
    }
    wanted_.insert(user);
    if (!looking_up_) {
        looking_up_ = true;  // from the loop, after the caller's login step
        sd_event_source_set_enabled(lookup_soon_, SD_EVENT_ONESHOT);
    }
}

// One connection for the users wanted so far; those wanted meanwhile go in the next. A
// lookup that fails changes nothing and is not retried before the next pass, which is
// what decides whether the directory's contacts serve or expire.
void DirectorySync::start_lookups() {
    if (wanted_.empty() || !synchronized()) {
        wanted_.clear();
        looking_up_ = false;
        return;
    }
    auto policy = policy_();
    std::vector<std::string> users(wanted_.begin(), wanted_.end());
    looked_up_.insert(wanted_.begin(), wanted_.end());
    wanted_.clear();
    try {
        std::shared_ptr<Directory> directory = make_directory(*policy);
        // Only users NSS knows: a name that is nobody's (an SSH client may try any) is not
        // looked for, and does not count against kMaxLookups.
        lookup_job_ = directory_thread().submit(
            [directory, users] {
                Lookups found;
                SystemUserDirectory nss;
                std::vector<std::string> known;
                for (const std::string& user : users) {
                    (nss.exists(user) ? known : found.unknown).push_back(user);
                }
                if (!known.empty()) {
                    found.entries = directory->lookup(known);
                }
                return found;
            },
            [this](Result<Lookups> found) { looked_up_alone(std::move(found)); });
    } catch (const std::exception& e) {
        lookups_over(e.what());
    }
}

void DirectorySync::looked_up_alone(Result<Lookups> found) {
    if (!found) {
        lookups_over(found.error().what());
        return;
    }
    for (const std::string& user : found->unknown) {
        looked_up_.erase(user);
    }
    auto entries = std::make_shared<const std::vector<DirectoryEntry>>(std::move(found->entries));
    apply(entries, [this, entries](Result<int> changed) {
        if (!changed) {
            lookups_over(changed.error().what());
            return;
        }
        for (const DirectoryEntry& entry : *entries) {
            log_event(LogLevel::Info, "directory-looked-up",
                      std::string("a user the synchronization does not list, looked up in the "
                                  "directory: ") +
                          (entry.found ? "found" : "not there"),
                      {{"USER", entry.user}, {"FOUND", entry.found ? "1" : "0"}});
        }
        lookups_over("");
    });
}

// `failure` is empty when the lookups succeeded.
void DirectorySync::lookups_over(const std::string& failure) {
    if (!failure.empty()) {
        log_event(LogLevel::Warning, "directory-lookup-failed",
                  "looking users up in the directory failed: " + failure);
    }
    looking_up_ = !wanted_.empty();
    if (looking_up_) {
        start_lookups();
    }
}

void DirectorySync::rearm() {
    auto policy = policy_();
    sd_event_source_set_time_relative(
        timer_, static_cast<uint64_t>(policy->directory.sync_interval.count()) * kUsecPerSec);
    sd_event_source_set_enabled(timer_, SD_EVENT_ONESHOT);
}

void DirectorySync::pass() {
    auto policy = policy_();
    // Under contacts = self the profile is the users' to confirm: nothing is synchronized.
    if (!synchronized()) {
        rearm();
        return;
    }
    if (stamp_missing_) {
        stamp_missing_ = false;
        write_stamp(last_good_);
    }
    std::shared_ptr<Directory> directory = make_directory(*policy);
    std::weak_ptr<bool> alive = alive_;
    store_.list_users([this, alive, directory](Result<std::vector<std::string>> known) {
        if (alive.expired()) {
            return;
        }
        if (!known) {
            failed(known.error().what());
            return;
        }
        auto work = [directory, known = std::move(known).value()] {
            std::set<std::string> users(known.begin(), known.end());
            for (std::string& name : host_users()) {
                users.insert(std::move(name));
            }
            return directory->lookup({users.begin(), users.end()});
        };
        auto done = [this](Result<std::vector<DirectoryEntry>> entries) {
            if (entries) {
                looked_up(std::move(entries).value());
            } else {
                failed(entries.error().what());
            }
        };
        job_ = directory_thread().submit(std::move(work), std::move(done));
    });
}

// The policy's directory, its secrets read now (on the loop: small files, read again at
// each pass so that a replaced one is used). Throws Error(Internal) when one cannot be read.
std::shared_ptr<Directory> DirectorySync::make_directory(const policy::Policy& policy) {
    const policy::DirectoryPolicy& config = policy.directory;
    if (config.backend == policy::DirectoryBackend::Ldap) {
        SecretString password;
        if (!config.ldap_password_file.empty()) {
            password = read_secret_file(config.ldap_password_file.string(), this_process_reader());
        }
        return std::make_shared<LdapDirectory>(config, std::move(password));
    }
    // The policy loader made sure that lineworks_channel names a lineworks channel.
    auto channel = std::find_if(policy.channels.begin(), policy.channels.end(),
                                [&](const policy::ChannelConfig& c) {
                                    return c.name == config.lineworks_channel;
                                });
    if (channel == policy.channels.end()) {
        throw Error(Errc::Internal, "no [channel." + config.lineworks_channel + "]");
    }
    if (!pacer_) {
        pacer_ = std::make_shared<RequestPacer>(config.lineworks_rate);
    }
    pacer_->set_rate(config.lineworks_rate);
    return std::make_shared<LineWorksDirectory>(
        *channel, read_secret_file(channel->option("client_secret_file"), this_process_reader()),
        read_secret_file(channel->option("private_key_file"), this_process_reader()), pacer_);
}

// Makes the store's contacts of each entry's user what the entry says, one user at a
// time; `done` gets how many users' contacts changed.
void DirectorySync::apply(std::shared_ptr<const std::vector<DirectoryEntry>> entries,
                          Done<int> done) {
    auto changed = std::make_shared<int>(0);
    auto steps = std::make_shared<std::vector<WriteStep>>();
    for (size_t i = 0; i < entries->size(); ++i) {
        steps->push_back([this, entries, changed, i](Done<void> step_done) {
            store_.load_user((*entries)[i].user,
                             then<UserState>(step_done, [this, entries, changed, i,
                                                         step_done](const UserState& state) {
                                 auto writes = std::make_shared<std::vector<WriteStep>>();
                                 plan((*entries)[i], state, store_, *writes);
                                 *changed += writes->empty() ? 0 : 1;
                                 run_in_order(writes, 0, step_done);
                             }));
        });
    }
    std::weak_ptr<bool> alive = alive_;
    run_in_order(steps, 0, [alive, changed, done = std::move(done)](Result<void> written) {
        if (alive.expired()) {
            return;
        }
        done(written ? Result<int>(*changed) : Result<int>(written.error()));
    });
}

void DirectorySync::looked_up(const std::vector<DirectoryEntry>& entries) {
    auto shared = std::make_shared<const std::vector<DirectoryEntry>>(entries);
    apply(shared, [this, shared](Result<int> changed) {
        if (!changed) {
            failed(changed.error().what());
            return;
        }
        long found = std::count_if(shared->begin(), shared->end(),
                                   [](const DirectoryEntry& e) { return e.found; });
        last_good_ = clock_.now();
        expired_ = false;
        // Those it listed are in the store now, and the next pass will list them again.
        looked_up_.clear();
        write_stamp(last_good_);
        log_event(LogLevel::Info, "directory-synced",
                  "directory synchronized: " + std::to_string(found) + " of " +
                      std::to_string(shared->size()) + " users found, " +
                      std::to_string(changed.value()) + " changed",
                  {{"USERS", std::to_string(shared->size())},
                   {"FOUND", std::to_string(found)},
                   {"CHANGED", std::to_string(changed.value())}});
        rearm();
    });
}

void DirectorySync::failed(const std::string& reason) {
    auto policy = policy_();
    int64_t age = clock_.now() - last_good_;
    log_event(LogLevel::Warning, "directory-sync-failed",
              "directory synchronization failed: " + reason +
                  "; the contacts of the last synchronization serve (" + std::to_string(age) +
                  "s old, removed at " + std::to_string(policy->directory.max_age.count()) + "s)",
              {{"AGE", std::to_string(age)}});
    if (age >= policy->directory.max_age.count() && !expired_) {
        expire();
    }
    rearm();
}

// Every user the store knows, as if the directory held nobody: their directory contacts go.
void DirectorySync::expire() {
    expired_ = true;
    std::weak_ptr<bool> alive = alive_;
    store_.list_users([this, alive](Result<std::vector<std::string>> users) {
        if (alive.expired()) {
            return;
        }
        if (!users) {
            log_event(LogLevel::Error, "directory-expired",
                      std::string("cannot remove the directory's expired contacts: ") +
                          users.error().what());
            return;
        }
        auto nobody = std::make_shared<std::vector<DirectoryEntry>>();
        for (const std::string& user : users.value()) {
            nobody->push_back(DirectoryEntry{user, false, std::nullopt, std::nullopt});
        }
        apply(nobody, [](Result<int> removed) {
            if (!removed) {
                log_event(LogLevel::Error, "directory-expired",
                          std::string("cannot remove the directory's expired contacts: ") +
                              removed.error().what());
                return;
            }
            log_event(LogLevel::Warning, "directory-expired",
                      "the directory's contacts are older than max_age: removed those of " +
                          std::to_string(removed.value()) + " users until the directory answers",
                      {{"USERS", std::to_string(removed.value())}});
        });
    });
}

void DirectorySync::write_stamp(int64_t at) const {
    std::string tmp = stamp_ + ".new";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << at << '\n';
        if (!out.flush()) {
            log_event(LogLevel::Error, "directory-sync-failed", "cannot write " + tmp);
            return;
        }
    }
    if (::rename(tmp.c_str(), stamp_.c_str()) != 0) {
        log_event(LogLevel::Error, "directory-sync-failed",
                  "cannot write " + stamp_ + ": " + errno_string(-errno));
    }
}

}  // namespace lwauth
