#include "http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <string_view>

#include "barrier.hpp"
#include "log.hpp"
#include "lwauth/error.hpp"

namespace lwauth::http {
namespace {

using EasyPtr = std::unique_ptr<CURL, Deleter<curl_easy_cleanup>>;
using SlistPtr = std::unique_ptr<curl_slist, Deleter<curl_slist_free_all>>;

// Appends to a libcurl string list; throws when out of memory.
void append(SlistPtr& list, const std::string& value) {
    curl_slist* next = curl_slist_append(list.get(), value.c_str());
    if (next == nullptr) {
        throw Error(Errc::Internal, "out of memory for a request");
    }
    list.release();
    list.reset(next);
}

bool has_line_break(const std::string& value) {
    return value.find_first_of("\r\n") != std::string::npos;
}

CURLM* as_multi(void* multi) {
    return static_cast<CURLM*>(multi);
}

// How long past its own limit a transfer may run before the client ends it (see perform).
constexpr std::chrono::milliseconds kOverdueGrace{1000};

long whole_seconds(std::chrono::milliseconds limit) {
    return static_cast<long>((limit.count() + 999) / 1000);
}

// RFC 5321 section 4.5.3.2 times each stage of a mail transaction on its own; libcurl has
// one option per kind of wait. Zero leaves libcurl's default.
bool set_mail_limits(CURL* easy, const Request& r) {
    bool ok = true;
    if (r.connect_timeout.count() > 0) {
        // libcurl counts the greeting, EHLO, STARTTLS and AUTH as part of connecting.
        ok = ok && curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                                    static_cast<long>(r.connect_timeout.count())) == CURLE_OK;
    }
    if (r.reply_timeout.count() > 0) {
        ok = ok && curl_easy_setopt(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT,
                                    static_cast<long>(r.reply_timeout.count())) == CURLE_OK;
    }
    if (r.stall_timeout.count() > 0) {
        // Less than a byte a second for this long: the server stopped taking the message.
        ok = ok && curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, whole_seconds(r.stall_timeout)) ==
                 CURLE_OK;
    }
    return ok;
}

// The header fields a Response keeps: the rate limit's, for a caller that paces itself
// (LINE WORKS: https://developers.worksmobile.com/jp/docs/rate-limits; RFC 9110 §10.2.3).
constexpr std::string_view kKeptHeaders[] = {"retry-after", "ratelimit-limit",
                                             "ratelimit-remaining", "ratelimit-reset"};

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct Client::Transfer {
    Client* client = nullptr;
    EasyPtr easy;
    SlistPtr headers;
    SlistPtr recipients;  // CURLOPT_MAIL_RCPT
    Request request;
    Callback done;
    std::string body;
    size_t uploaded = 0;         // how much of request.body a mail upload has read
    size_t data_out = 0;         // message bytes written to the connection (dot-stuffed)
    int fd = -1;                 // the connection's socket, once libcurl names it
    EventSourcePtr reply_check;  // see Client::arm_reply_check
    EventSourcePtr overdue;      // see Client::perform
    bool too_big = false;
    char error[CURL_ERROR_SIZE] = {};
    std::map<std::string, std::string> answer_headers;

    // Keeps the header fields of kKeptHeaders; a new status line (a 100 Continue, a
    // proxy's CONNECT answer) starts the set again.
    static size_t on_header(char* data, size_t size, size_t count, void* userp) {
        return c_barrier("http-header", size_t{0}, [&] {
            auto* self = static_cast<Transfer*>(userp);
            size_t n = size * count;
            std::string_view line(data, n);
            if (line.rfind("HTTP/", 0) == 0) {
                self->answer_headers.clear();
                return n;
            }
            size_t colon = line.find(':');
            if (colon == std::string_view::npos) {
                return n;
            }
            std::string name(line.substr(0, colon));
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (std::find(std::begin(kKeptHeaders), std::end(kKeptHeaders), name) ==
                std::end(kKeptHeaders)) {
                return n;
            }
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
                value.remove_prefix(1);
            }
            while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                                      value.back() == ' ' || value.back() == '\t')) {
                value.remove_suffix(1);
            }
            self->answer_headers[name] = std::string(value.substr(0, 64));
            return n;
        });
    }

    // What the transfer ended with, as the caller sees it.
    Response response(CURLcode result) {
        CURL* e = easy.get();
        Response out;
        if (result == CURLE_OK) {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out.status);
            out.body = std::move(body);
            out.headers = std::move(answer_headers);
            return out;
        }
        if (is_mail()) {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out.status);
        }
        out.timed_out = result == CURLE_OPERATION_TIMEDOUT;
        out.mail_data_sent = mail_data_sent();
        out.error = too_big            ? "the answer is larger than 1 MiB"
                    : error[0] != '\0' ? error
                                       : curl_easy_strerror(result);
        return out;
    }

    // Every callback libcurl or sd-event calls runs behind c_barrier; the value it answers
    // when an exception was caught ends the transfer (or, for the loop's callbacks,
    // leaves the event source on).
    static size_t on_write(char* data, size_t size, size_t count, void* userp) {
        return c_barrier("http-write", size_t{0}, [&] {
            auto* self = static_cast<Transfer*>(userp);
            size_t n = size * count;
            if (self->body.size() + n > kMaxBody) {
                self->too_big = true;
                return size_t{0};  // aborts the transfer
            }
            self->body.append(data, n);
            return n;
        });
    }

    static size_t on_read(char* buffer, size_t size, size_t count, void* userp) {
        return c_barrier("mail-read", size_t{CURL_READFUNC_ABORT}, [&] {
            auto* self = static_cast<Transfer*>(userp);
            const std::string& message = self->request.body;
            size_t n = std::min(size * count, message.size() - self->uploaded);
            std::memcpy(buffer, message.data() + self->uploaded, n);
            self->uploaded += n;
            return n;
        });
    }

    // Mail only: counts the message bytes sent, and starts the wait for the reply to each
    // command. Nothing is kept of what the data holds (credentials, the code).
    static int on_debug(CURL*, curl_infotype type, char*, size_t size, void* userp) {
        return c_barrier("mail-progress", 0, [&] {
            auto* self = static_cast<Transfer*>(userp);
            if (type == CURLINFO_DATA_OUT) {
                self->data_out += size;
            } else if (type == CURLINFO_HEADER_OUT) {
                self->client->arm_reply_check(*self, self->request.reply_timeout);
            }
            return 0;
        });
    }

    // The whole message is on the connection: libcurl writes the final "." right after it.
    [[nodiscard]] bool mail_data_sent() const {
        return is_mail() && uploaded == request.body.size() && data_out >= request.body.size();
    }

    [[nodiscard]] bool is_mail() const { return !request.mail_rcpt.empty(); }

    // Sets the easy handle up for the request; throws when libcurl refuses an option.
    void set_up() {
        const Request& r = request;
        for (const auto& header : r.headers) {
            append(headers, header);
        }
        for (const auto& recipient : r.mail_rcpt) {
            append(recipients, recipient);
        }
        if (is_mail() && (has_line_break(r.mail_from) ||
                          std::any_of(r.mail_rcpt.begin(), r.mail_rcpt.end(),
                                      [](const auto& a) { return has_line_break(a); }))) {
            throw Error(Errc::Internal, "a mail address holds a line break");
        }
        if (!(set_transport() && set_credentials() && set_payload())) {
            throw Error(Errc::Internal, "cannot set up a request for " + r.url);
        }
    }

    // What every request shares: the URL and its protocols, limits, TLS, the callbacks.
    [[nodiscard]] bool set_transport() {
        CURL* e = easy.get();
        const Request& r = request;
        bool ok =
            curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, r.protocols.c_str()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, r.protocols.c_str()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count())) ==
                CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
            // Protocols that can upgrade (SMTP's STARTTLS) must, or fail: never in clear.
            curl_easy_setopt(e, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL)) == CURLE_OK &&
            // An empty proxy string makes libcurl ignore http_proxy & co. in the
            // environment: proxies come from the policy only.
            curl_easy_setopt(e, CURLOPT_PROXY, r.proxy.c_str()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_USERAGENT, "lwauth") == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_write) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_WRITEDATA, this) == CURLE_OK &&
            (is_mail() ||
             (curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HEADERDATA, this) == CURLE_OK)) &&
            curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error) == CURLE_OK &&
            curl_easy_setopt(e, CURLOPT_PRIVATE, this) == CURLE_OK;
        if (ok && !r.ca_file.empty()) {
            ok = curl_easy_setopt(e, CURLOPT_CAINFO, r.ca_file.c_str()) == CURLE_OK;
        }
        return ok;
    }

    [[nodiscard]] bool set_credentials() {
        CURL* e = easy.get();
        const Request& r = request;
        if (r.username.empty()) {
            return true;
        }
        return (is_mail() || curl_easy_setopt(e, CURLOPT_HTTPAUTH,
                                              static_cast<long>(CURLAUTH_BASIC)) == CURLE_OK) &&
               curl_easy_setopt(e, CURLOPT_USERNAME, r.username.c_str()) == CURLE_OK &&
               curl_easy_setopt(e, CURLOPT_PASSWORD, r.password.c_str()) == CURLE_OK;
    }

    // The body: a mail message uploaded after MAIL FROM / RCPT TO, or an HTTP method's.
    [[nodiscard]] bool set_payload() {
        CURL* e = easy.get();
        const Request& r = request;
        if (is_mail()) {
            return set_mail_limits(e, r) &&
                   curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, &Transfer::on_debug) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_DEBUGDATA, this) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_VERBOSE, 1L) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_MAIL_FROM, r.mail_from.c_str()) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_MAIL_RCPT, recipients.get()) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                                    static_cast<curl_off_t>(r.body.size())) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_READFUNCTION, &Transfer::on_read) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_READDATA, this) == CURLE_OK;
        }
        if (r.method == "POST") {
            return curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size())) ==
                       CURLE_OK &&
                   curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data()) == CURLE_OK;
        }
        return r.method == "GET" ||
               curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str()) == CURLE_OK;
    }
};

Client::Client(sd_event* event) : event_(event) {
    global_init();
    multi_ = curl_multi_init();
    if (multi_ == nullptr) {
        throw Error(Errc::Internal, "curl_multi_init failed");
    }
    curl_multi_setopt(as_multi(multi_), CURLMOPT_SOCKETFUNCTION, &Client::on_socket);
    curl_multi_setopt(as_multi(multi_), CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(as_multi(multi_), CURLMOPT_TIMERFUNCTION, &Client::on_timer);
    curl_multi_setopt(as_multi(multi_), CURLMOPT_TIMERDATA, this);
}

Client::~Client() {
    for (auto& [easy, transfer] : transfers_) {
        curl_multi_remove_handle(as_multi(multi_), transfer->easy.get());
    }
    transfers_.clear();
    curl_multi_cleanup(as_multi(multi_));
}

void Client::perform(Request request, Callback done) {
    auto transfer = std::make_unique<Transfer>();
    transfer->easy.reset(curl_easy_init());
    if (!transfer->easy) {
        throw Error(Errc::Internal, "curl_easy_init failed");
    }
    transfer->client = this;
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    transfer->set_up();
    CURL* easy = transfer->easy.get();
    Transfer& started = *transfer;
    transfers_.emplace(easy, std::move(transfer));
    if (curl_multi_add_handle(as_multi(multi_), easy) != CURLM_OK) {
        transfers_.erase(easy);
        throw Error(Errc::Internal, "cannot start a request");
    }
    if (started.is_mail()) {
        arm_reply_check(started, started.request.reply_timeout);  // the greeting
    }
    // libcurl ends a transfer at its timeout when the loop runs it then. Should that wake-up
    // ever be lost, the caller (a login waiting for its code) must not wait for the server:
    // a second past its limit, the transfer is ended here as timed out.
    uint64_t usec = static_cast<uint64_t>((started.request.timeout + kOverdueGrace).count()) * 1000;
    sd_event_source* source = nullptr;
    if (sd_event_add_time_relative(event_, &source, CLOCK_MONOTONIC, usec, 0, &Client::on_overdue,
                                   &started) >= 0) {
        started.overdue.reset(source);
    }
}

int Client::on_overdue(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("http-overdue", 0, [&] {
        auto& transfer = *static_cast<Transfer*>(userdata);
        transfer.client->abandon(transfer.easy.get());
        return 0;
    });
}

void Client::abandon(void* easy) {
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) {
        return;
    }
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    transfers_.erase(it);
    curl_multi_remove_handle(as_multi(multi_), transfer->easy.get());
    log_event(LogLevel::Warning, "http-overdue",
              "a request outlived its time limit; ended without libcurl",
              {{"TIMEOUT_MS", std::to_string(transfer->request.timeout.count())}});
    Response response;
    response.timed_out = true;
    response.mail_data_sent = transfer->mail_data_sent();
    response.error = "no answer in time";
    if (transfer->done) {
        c_barrier("http-completion", 0, [&] {
            transfer->done(std::move(response));
            return 0;
        });
    }
}

// libcurl 7.88 checks CURLOPT_SERVER_RESPONSE_TIMEOUT only when it runs the transfer, and
// on a multi handle nothing runs a transfer whose server stays silent (no timer is set
// for it). So a timer of our own runs it on its socket when a reply is due, and every
// quarter second after, until the reply arrives or libcurl ends the transfer.
void Client::arm_reply_check(Transfer& transfer, std::chrono::milliseconds after) {
    if (after.count() <= 0) {
        return;
    }
    uint64_t usec = static_cast<uint64_t>(after.count()) * 1000 + 50 * 1000;
    if (!transfer.reply_check) {
        sd_event_source* source = nullptr;
        if (sd_event_add_time_relative(event_, &source, CLOCK_MONOTONIC, usec, 0,
                                       &Client::on_reply_due, &transfer) < 0) {
            return;  // the transaction's own limit still ends it
        }
        transfer.reply_check.reset(source);
        return;
    }
    sd_event_source_set_time_relative(transfer.reply_check.get(), usec);
    sd_event_source_set_enabled(transfer.reply_check.get(), SD_EVENT_ONESHOT);
}

int Client::on_reply_due(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("mail-reply-timer", 0, [&] {
        auto& transfer = *static_cast<Transfer*>(userdata);
        Client& client = *transfer.client;
        int fd = transfer.fd;
        // Again in a quarter second unless the transfer ends now (which destroys the timer).
        client.arm_reply_check(transfer, std::chrono::milliseconds(200));
        if (fd >= 0) {
            client.socket_action(fd, 0);
        }
        return 0;
    });
}

// -1 tells libcurl the socket cannot be watched: it fails the transfers on it.
int Client::on_socket(void* easy, int fd, int what, void* userp, void* socketp) {
    return c_barrier("http-socket", -1, [&] {
        return static_cast<Client*>(userp)->watch_socket(easy, fd, what, socketp);
    });
}

int Client::watch_socket(void* easy, int fd, int what, void* socketp) {
    if (auto it = transfers_.find(easy); it != transfers_.end()) {
        it->second->fd = what == CURL_POLL_REMOVE ? -1 : fd;
    }
    auto* source = static_cast<sd_event_source*>(socketp);
    if (what == CURL_POLL_REMOVE) {
        if (source != nullptr) {
            sd_event_source_disable_unref(source);
            curl_multi_assign(as_multi(multi_), fd, nullptr);
        }
        return 0;
    }
    uint32_t events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        events |= EPOLLIN;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        events |= EPOLLOUT;
    }
    if (source == nullptr) {
        if (sd_event_add_io(event_, &source, fd, events, &Client::on_io, this) < 0) {
            return -1;
        }
        curl_multi_assign(as_multi(multi_), fd, source);
        return 0;
    }
    return sd_event_source_set_io_events(source, events) < 0 ? -1 : 0;
}

int Client::on_timer(void* /*multi*/, long timeout_ms, void* userp) {
    return c_barrier("http-timer", -1,
                     [&] { return static_cast<Client*>(userp)->set_timer(timeout_ms); });
}

int Client::set_timer(long timeout_ms) {
    if (timeout_ms < 0) {
        if (timer_) {
            sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
        }
        return 0;
    }
    uint64_t usec = static_cast<uint64_t>(timeout_ms) * 1000;
    if (!timer_) {
        sd_event_source* source = nullptr;
        if (sd_event_add_time_relative(event_, &source, CLOCK_MONOTONIC, usec, 0, &Client::on_time,
                                       this) < 0) {
            return -1;
        }
        timer_.reset(source);
        return 0;
    }
    if (sd_event_source_set_time_relative(timer_.get(), usec) < 0 ||
        sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT) < 0) {
        return -1;
    }
    return 0;
}

int Client::on_io(sd_event_source*, int fd, uint32_t revents, void* userdata) {
    int flags = 0;
    if (revents & EPOLLIN) {
        flags |= CURL_CSELECT_IN;
    }
    if (revents & EPOLLOUT) {
        flags |= CURL_CSELECT_OUT;
    }
    if (revents & (EPOLLERR | EPOLLHUP)) {
        flags |= CURL_CSELECT_ERR;
    }
    return c_barrier("http-io", 0, [&] {
        static_cast<Client*>(userdata)->socket_action(fd, flags);
        return 0;
    });
}

int Client::on_time(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("http-timeout", 0, [&] {
        static_cast<Client*>(userdata)->socket_action(CURL_SOCKET_TIMEOUT, 0);
        return 0;
    });
}

void Client::socket_action(int fd, int flags) {
    int running = 0;
    curl_multi_socket_action(as_multi(multi_), fd, flags, &running);
    finish_completed();
}

void Client::finish_completed() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(as_multi(multi_), &left)) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL* easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        curl_multi_remove_handle(as_multi(multi_), easy);
        auto it = transfers_.find(easy);
        if (it == transfers_.end()) {
            continue;
        }
        std::unique_ptr<Transfer> transfer = std::move(it->second);
        transfers_.erase(it);
        Response response = transfer->response(result);
        // The callback may start new requests: it runs after this transfer is gone. Its
        // exception stops neither the loop nor the completions still to read.
        if (transfer->done) {
            c_barrier("http-completion", 0, [&] {
                transfer->done(std::move(response));
                return 0;
            });
        }
    }
}

Response perform_blocking(Request request) {
    if (!request.mail_rcpt.empty()) {
        throw Error(Errc::Internal, "mail is sent on the event loop only");
    }
    global_init();
    Client::Transfer transfer;
    transfer.easy.reset(curl_easy_init());
    if (!transfer.easy) {
        throw Error(Errc::Internal, "curl_easy_init failed");
    }
    transfer.request = std::move(request);
    transfer.set_up();
    return transfer.response(curl_easy_perform(transfer.easy.get()));
}

}  // namespace lwauth::http
