#include "outbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

std::string utc_now_iso8601() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

class FdGuard {
  public:
    explicit FdGuard(int fd) : fd_(fd) {}
    ~FdGuard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    [[nodiscard]] int get() const { return fd_; }

  private:
    int fd_;
};

}  // namespace

void OutboxChannel::append(const OutgoingMessage& message) {
    nlohmann::json line = {
        {"time", utc_now_iso8601()},
        {"channel", name_},
        {"kind", policy::to_string(message.kind)},
        {"user", message.user},
        {"destination", message.destination},
        {"text", std::string(message.text.view())},
    };
    std::string out = line.dump() + "\n";
    FdGuard fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
        int err = errno;
        wipe_string(out);
        throw Error(Errc::DeliveryFailed, "outbox " + path_ + ": " + std::strerror(err));
    }
    struct stat st {};
    if (fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
        fchmod(fd.get(), 0600);
    }
    // One write() of the whole line: O_APPEND keeps concurrent lines whole.
    ssize_t written = ::write(fd.get(), out.data(), out.size());
    int err = errno;
    bool complete = written == static_cast<ssize_t>(out.size());
    wipe_string(out);
    if (!complete) {
        throw Error(Errc::DeliveryFailed,
                    "outbox " + path_ + ": " + (written < 0 ? std::strerror(err) : "short write"));
    }
    // No fsync: the outbox is the demo's and the tests' channel, read while lwauthd runs;
    // a sync on the event loop would hold up every login for a durability nobody uses.
}

void OutboxChannel::send(const OutgoingMessage& message, SendDone done) {
    // A local file write: done at once, before returning.
    try {
        append(message);
    } catch (const Error& e) {
        done(SendResult::failed(e.what()));
        return;
    }
    done(SendResult::ok());
}

}  // namespace lwauth
