#include "outbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "json_text.hpp"
#include "lwauth/error.hpp"
#include "lwauth/files.hpp"

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
    std::string out = json_text(line) + "\n";
    // Not through a link, and never a FIFO or a device: O_NONBLOCK keeps a FIFO put in
    // its place from hanging the daemon (and every login with it), and the checks on the
    // opened descriptor refuse anything but a regular file of lwauthd's own user that
    // only that user can read.
    auto file = open_checked(AT_FDCWD, path_, O_WRONLY | O_APPEND | O_CREAT, FileType::Regular,
                             private_file_rule(::geteuid()), 0600);
    if (!file) {
        wipe_string(out);
        throw Error(Errc::DeliveryFailed, "outbox " + describe_file_error(file.error(), path_));
    }
    const UniqueFd& fd = file->fd;
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

void OutboxChannel::send(const OutgoingMessage& message, Done<void> done) {
    // A local file write: done at once, before returning.
    try {
        append(message);
    } catch (const Error& e) {
        done(send_failure(e.what()));
        return;
    }
    done({});
}

}  // namespace lwauth
