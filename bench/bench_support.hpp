// What the login benchmarks share: libpam under pam_wrapper, one login through it,
// lwauthd's users (user0...) with 2-step on and an email under login_cost's policy, the
// codes read from the outbox, a fresh lwauthd on a copy of the filled state, percentiles
// and CPU time from /proc.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codes.hpp"
#include "harness.hpp"
#include "store/sqlite_store.hpp"

namespace lwauth::bench {

/// libpam must be redirected by pam_wrapper from the start: re-executes the program with
/// it preloaded, unless it is already. Returns only when it is (or exec failed: 127).
inline int under_pam_wrapper(char** argv) {
    if (std::getenv("PAM_WRAPPER") != nullptr) {
        return 0;
    }
    setenv("PAM_WRAPPER", "1", 1);
    setenv("LD_PRELOAD", "libpam_wrapper.so", 1);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe");
    return 127;
}

struct Person {
    std::function<std::string()> answer;  // the answer to every prompt
    int prompts = 0;
};

inline int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* person = static_cast<Person*>(data);
    auto* replies = static_cast<struct pam_response*>(
        calloc(static_cast<size_t>(n), sizeof(struct pam_response)));
    if (replies == nullptr) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < n; ++i) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            ++person->prompts;
            replies[i].resp = strdup(person->answer().c_str());
        }
    }
    *resp = replies;
    return PAM_SUCCESS;
}

/// pam_start, pam_authenticate, pam_end: the result of pam_authenticate.
inline int one_login(const char* service, const char* user, Person& person) {
    struct pam_conv conv {
        converse, &person
    };
    pam_handle_t* pamh = nullptr;
    int rc = pam_start(service, user, &conv, &pamh);
    if (rc != PAM_SUCCESS) {
        return rc;
    }
    rc = pam_authenticate(pamh, 0);
    pam_end(pamh, rc);
    return rc;
}

/// 2-step optional, email codes to the outbox, caps that a benchmark does not reach.
inline std::string login_policy(const test::fs::path& outbox) {
    return "[policy]\ntwo_step = optional\n"
           "\n[code]\nchannels = email\nresend_interval = 0s\nmax_sends_per_hour = 1000\n"
           "max_sends_per_destination_per_hour = 1000\nmax_sends_per_host_per_hour = 100000\n"
           "\n[lockout]\nmax_failures = 1000\nduration = 15m\n"
           "\n[channel.outbox]\ntype = outbox\npath = " +
           outbox.string() + "\n";
}

/// `names` in the user database of lwauthd and the bus (added to the harness's users).
inline void add_users(const test::Daemon& daemon, const std::vector<std::string>& names) {
    std::string passwd = test::read_file(daemon.passwd_path());
    std::string group = test::read_file(daemon.group_path());
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string& name = names[i];
        std::string id = std::to_string(50000 + i);
        passwd += name + ":x:" + id + ":" + id + ":" + name + ":/nonexistent:/bin/sh\n";
        group += name + ":x:" + id + ":\n";
    }
    test::write_file(daemon.passwd_path(), passwd);
    test::write_file(daemon.group_path(), group);
}

/// A state directory holding `names`, each with 2-step on and an email, written through
/// the real store. lwauthd starts only on a state directory of its own with no group or
/// other bits.
inline void fill_state(const test::fs::path& state, const std::vector<std::string>& names) {
    test::fs::create_directories(state);
    test::fs::permissions(state, test::fs::perms::owner_all);
    OpenSslRandom random;
    SqliteStore store(
        (state / "lwauth.db").string(),
        ContactCipher(load_or_create_key((state / "contacts.key").string(), random), random));
    for (const auto& name : names) {
        store.save_contact(name, {"email", name + "@example.com"});
        store.set_two_step(name, true);
    }
}

// ---- measuring ----------------------------------------------------------------------

inline double us_between(std::chrono::steady_clock::time_point a,
                         std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

inline double pct(std::vector<double>& v, double p) {
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    size_t i =
        std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
    return v[i];
}

/// What a Status probe saw: each call's latency in microseconds, and the failed calls by
/// error name.
struct StatusTally {
    std::vector<double> us;
    std::map<std::string, long> errors;
};

/// Account.Status from a bus connection of its own every `every`, one call at a time (a
/// late call is followed by the next at once), from `begin` while `go_on(due)` holds: how
/// quickly lwauthd still answers a light request while it is under load.
inline StatusTally probe_status(
    const std::string& address, std::chrono::milliseconds every,
    std::chrono::steady_clock::time_point begin,
    const std::function<bool(std::chrono::steady_clock::time_point due)>& go_on) {
    using Steady = std::chrono::steady_clock;
    StatusTally out;
    sd_bus* bus = nullptr;
    sd_bus_new(&bus);
    sd_bus_set_address(bus, address.c_str());
    sd_bus_set_bus_client(bus, 1);
    if (sd_bus_start(bus) < 0) {
        ++out.errors["cannot connect to the bus"];
        sd_bus_unref(bus);
        return out;
    }
    for (auto due = begin; go_on(due); due += every) {
        std::this_thread::sleep_until(due);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message* reply = nullptr;
        auto a = Steady::now();
        if (sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                               "org.lwauth.Auth1.Account", "Status", &error, &reply, "") < 0) {
            ++out.errors[error.name != nullptr ? error.name : "?"];
        } else {
            out.us.push_back(us_between(a, Steady::now()));
        }
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        due = std::max(due, Steady::now() - every);  // late: the next one at once
    }
    sd_bus_flush_close_unref(bus);
    return out;
}

inline std::string fmt_us(double us) {
    char buf[64];
    if (us >= 10000) {
        std::snprintf(buf, sizeof buf, "%.1f ms", us / 1000);
    } else if (us >= 1000) {
        std::snprintf(buf, sizeof buf, "%.2f ms", us / 1000);
    } else {
        std::snprintf(buf, sizeof buf, "%.0f µs", us);
    }
    return buf;
}

// ---- the outbox, read from where it was left -----------------------------------------

// The first run of 6-10 digits, as OutboxMessage::code() finds it (without std::regex).
inline std::string first_code(const std::string& text) {
    for (size_t i = 0; i < text.size();) {
        if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) {
            ++j;
        }
        if (j - i >= 6 && j - i <= 10) {
            return text.substr(i, j - i);
        }
        i = j;
    }
    return "";
}

class OutboxTail {
  public:
    explicit OutboxTail(test::fs::path path) : path_(std::move(path)) {}
    ~OutboxTail() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    // The newest code sent to `user`: reads only what was appended since the last call.
    std::string code_for(const std::string& user) {
        std::lock_guard lock(mutex_);
        if (fd_ < 0) {
            fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        }
        if (fd_ >= 0) {
            char buf[65536];
            ssize_t n;
            while ((n = ::pread(fd_, buf, sizeof buf, offset_)) > 0) {
                offset_ += n;
                partial_.append(buf, static_cast<size_t>(n));
            }
            size_t start = 0;
            for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos;
                 start = nl + 1) {
                if (nl == start) {
                    continue;
                }
                auto j = nlohmann::json::parse(partial_.begin() + static_cast<long>(start),
                                               partial_.begin() + static_cast<long>(nl));
                latest_[j.value("user", "")] = first_code(j.value("text", ""));
            }
            partial_.erase(0, start);
        }
        auto it = latest_.find(user);
        return it == latest_.end() ? "" : it->second;
    }

  private:
    test::fs::path path_;
    std::mutex mutex_;
    int fd_ = -1;
    off_t offset_ = 0;
    std::string partial_;
    std::unordered_map<std::string, std::string> latest_;
};

// /proc/PID/stat utime + stime, in clock ticks.
inline long cpu_ticks(pid_t pid) {
    if (pid <= 0) {
        return 0;
    }
    std::string stat = test::read_file("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    long utime = 0;
    long stime = 0;
    // Fields from 3 (state); utime is 14, stime 15.
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) {
            utime = std::stol(field);
        } else if (i == 15) {
            stime = std::stol(field);
        }
    }
    return utime + stime;
}

// The process whose command line contains `needle`.
inline pid_t find_process(const std::string& needle) {
    DIR* proc = opendir("/proc");
    pid_t found = -1;
    while (dirent* e = proc != nullptr ? readdir(proc) : nullptr) {
        std::string_view name = e->d_name;
        pid_t pid = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (ec != std::errc() || end != name.data() + name.size() || pid <= 0 || pid == getpid()) {
            continue;
        }
        std::string cmdline = test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(needle) != std::string::npos) {
            found = pid;
            break;
        }
    }
    if (proc != nullptr) {
        closedir(proc);
    }
    return found;
}

// ---- lwauthd's state ------------------------------------------------------------------

// Stops `daemon` if it runs and starts it again on a fresh copy of `filled`, with no send
// counted and no login pending. The new lwauthd's pid, or -1 when it did not start.
inline pid_t start_fresh(test::Daemon& daemon, const test::fs::path& filled) {
    if (daemon.running()) {
        daemon.stop();
    }
    test::fs::remove_all(daemon.state_dir());
    test::fs::copy(filled, daemon.state_dir(), test::fs::copy_options::recursive);
    test::fs::permissions(daemon.state_dir(), test::fs::perms::owner_all);
    if (!daemon.start()) {
        std::fprintf(stderr, "lwauthd did not start:\n%s\n", daemon.log().c_str());
        return -1;
    }
    return find_process(daemon.state_dir().string());
}

}  // namespace lwauth::bench
