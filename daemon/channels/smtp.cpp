#include "smtp.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <iterator>

#include <netdb.h>

#include "../clock.hpp"
#include "../http/url.hpp"
#include "../log.hpp"
#include "gateway.hpp"
#include "lwauth/error.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/text.hpp"

namespace lwauth {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// Printable US-ASCII or a tab: what a header or a 7bit body may hold as it is.
bool is_plain(unsigned char c) {
    return c < 0x80 && (!is_control(c) || c == '\t');
}

bool all_plain(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return is_plain(c); });
}

// A header value must stay on its line: no CR, LF or other control character (a tab is
// fine), so nothing can add a header or end the header block.
void check_header_value(std::string_view header, std::string_view value) {
    for (unsigned char c : value) {
        if (is_control(c) && c != '\t') {
            throw Error(Errc::InvalidArgument,
                        "the email " + std::string(header) + " holds a control character");
        }
    }
}

// RFC 5322 section 3.3, in UTC: "Wed, 25 Nov 2026 18:50:10 +0000". Names are spelled out
// so that the locale cannot change them.
std::string rfc5322_date(std::chrono::system_clock::time_point now) {
    static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                         "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                  tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

// The text with every line break (CRLF, LF or a lone CR) made CRLF, ending with one.
std::string crlf_lines(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 16 + 2);
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\r') {
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
            out += kCrlf;
        } else if (c == '\n') {
            out += kCrlf;
        } else {
            out += c;
        }
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, kCrlf) != 0) {
        out += kCrlf;
    }
    return out;
}

// "<hex@lwauth.HOST>", HOST being this machine's name kept to what a domain may hold.
std::string new_message_id() {
    uint8_t random[16];
    OpenSslRandom().fill(random, sizeof random);
    std::string id = "<" + hex_encode(random, sizeof random);
    char host[256] = {};
    std::string domain;
    if (gethostname(host, sizeof host - 1) == 0) {
        for (const char* p = host; *p != '\0'; ++p) {
            char c = *p;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.') {
                domain += c;
            }
        }
    }
    return id + "@lwauth." + (domain.empty() ? "localhost" : domain) + ">";
}

// What a 5xx reply means, for the administrator reading the log.
std::string permanent_reason(long code) {
    switch (code) {
        case 530:
        case 534:
        case 535:
        case 538:
            return "the server refused the credentials: check username and password_file";
        case 550:
        case 551:
        case 553:
            return "the server refused the recipient mailbox";
        case 552:
            return "the server refused the message: mailbox full or message too large";
        case 554:
            return "the server refused the transaction";
        default:
            return "the server refused the message";
    }
}

}  // namespace

std::string encode_header_text(std::string_view value) {
    if (all_plain(value)) {
        return std::string(value);
    }
    // At most 39 bytes a word: "=?UTF-8?B?" + 52 base64 characters + "?=" is 64 long, so
    // "Subject: " and the word stay within 78 characters. A word never splits a UTF-8
    // character (RFC 2047 section 5).
    constexpr size_t kMaxChunk = 39;
    std::string out;
    size_t at = 0;
    while (at < value.size()) {
        size_t end = std::min(value.size(), at + kMaxChunk);
        while (end < value.size() && end > at + 1 && (uint8_t(value[end]) & 0xc0) == 0x80) {
            --end;  // back to the start of a character
        }
        if (!out.empty()) {
            out += "\r\n ";
        }
        out += "=?UTF-8?B?" + base64_encode(value.substr(at, end - at)) + "?=";
        at = end;
    }
    return out;
}

std::string encode_mailbox(std::string_view header, std::string_view mailbox) {
    size_t open = mailbox.rfind('<');
    if (open == std::string_view::npos || all_plain(mailbox.substr(0, open))) {
        return std::string(mailbox);
    }
    // An encoded-word may not stand inside a quoted-string (RFC 2047 section 5 (3)): a
    // quoted display name loses its quotes and backslashes before it is encoded.
    std::string_view quoted = trim(mailbox.substr(0, open));
    std::string name;
    if (quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"') {
        quoted = quoted.substr(1, quoted.size() - 2);
        for (size_t i = 0; i < quoted.size(); ++i) {
            if (quoted[i] == '\\' && i + 1 < quoted.size()) {
                ++i;
            }
            name += quoted[i];
        }
    } else {
        name = quoted;
    }
    std::string out = encode_header_text(name);
    std::string_view address = trim(mailbox.substr(open));
    // FWS may come before the angle-addr (RFC 5322 section 3.4): the address goes on a
    // line of its own when the last word's line would pass 78 characters with it.
    size_t line_start = out.rfind(kCrlf);
    size_t last_line = line_start == std::string::npos ? header.size() + 2 + out.size()
                                                       : out.size() - line_start - 2;
    out += last_line + 1 + address.size() > 78 ? "\r\n " : " ";
    out += address;
    return out;
}

MailBody encode_mail_body(std::string_view text) {
    std::string lines = crlf_lines(text);
    // 7bit: US-ASCII in lines of at most 998 octets (RFC 2045 section 2.7, RFC 5321
    // section 4.5.3.1.6). Anything else is base64 in lines of 76 characters (RFC 2045
    // section 6.8): libcurl never asks for 8BITMIME (RFC 6152), so 8-bit data may not
    // cross the wire, and base64 keeps Japanese text at 4/3 of its size where
    // quoted-printable would triple it.
    bool seven_bit = true;
    size_t line_length = 0;
    for (size_t i = 0; i < lines.size() && seven_bit; ++i) {
        if (lines.compare(i, 2, kCrlf) == 0) {
            line_length = 0;
            ++i;
        } else {
            seven_bit = is_plain(static_cast<unsigned char>(lines[i])) && ++line_length <= 998;
        }
    }
    if (seven_bit) {
        return {"7bit", std::move(lines)};
    }
    std::string encoded = base64_encode(lines);
    wipe_string(lines);
    constexpr size_t kBase64Line = 76;
    MailBody body{"base64", {}};
    body.text.reserve(encoded.size() + encoded.size() / kBase64Line * 2 + 2);
    for (size_t at = 0; at < encoded.size(); at += kBase64Line) {
        body.text.append(encoded, at, kBase64Line).append(kCrlf);
    }
    wipe_string(encoded);
    return body;
}

std::string envelope_address(std::string_view from) {
    auto open = from.rfind('<');
    auto close = from.rfind('>');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
        from = from.substr(open + 1, close - open - 1);
    }
    while (!from.empty() && (from.front() == ' ' || from.front() == '\t')) {
        from.remove_prefix(1);
    }
    while (!from.empty() && (from.back() == ' ' || from.back() == '\t')) {
        from.remove_suffix(1);
    }
    return "<" + std::string(from) + ">";
}

std::string build_email(std::string_view from, std::string_view to, std::string_view subject,
                        std::string_view text, std::chrono::system_clock::time_point now,
                        std::string_view message_id) {
    check_header_value("From", from);
    check_header_value("To", to);
    check_header_value("Subject", subject);
    check_header_value("Message-ID", message_id);
    if (from.empty() || to.empty()) {
        throw Error(Errc::InvalidArgument, "an email needs a sender and a recipient");
    }
    std::string message;
    auto header = [&message](std::string_view name, std::string_view value) {
        message.append(name).append(": ").append(value).append(kCrlf);
    };
    header("Date", rfc5322_date(now));
    header("Message-ID", message_id);
    header("From", encode_mailbox("From", from));
    header("To", encode_mailbox("To", to));
    header("Subject", encode_header_text(subject));
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=UTF-8");
    MailBody body = encode_mail_body(text);
    header("Content-Transfer-Encoding", body.transfer_encoding);
    message += kCrlf;
    message += body.text;
    wipe_string(body.text);
    return message;
}

std::string fill_email_body(std::string_view body_template, std::string_view message,
                            std::string_view user, std::string_view hostname) {
    const std::pair<std::string_view, std::string_view> fields[] = {
        {"{message}", message}, {"{user}", user}, {"{hostname}", hostname}};
    std::string out;
    for (size_t i = 0; i < body_template.size();) {
        bool replaced = false;
        for (const auto& [name, value] : fields) {
            if (body_template.substr(i, name.size()) == name) {
                out += value;
                i += name.size();
                replaced = true;
                break;
            }
        }
        if (!replaced) {
            out += body_template[i++];
        }
    }
    return out;
}

namespace {

std::string read_body_template(const std::string& path) {
    if (path.empty()) {
        return {};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
        throw Error(Errc::Internal, "cannot read body_file " + path);
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        throw Error(Errc::Internal, "cannot read body_file " + path);
    }
    if (text.find("{message}") == std::string::npos) {
        throw Error(Errc::Internal, "body_file " + path + " has no {message}, so no code");
    }
    return text;
}

std::string local_hostname() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) {
        return "localhost";
    }
    return name;
}

// This host's fully qualified name, as `hostname --fqdn` finds it (the resolver's
// canonical name for the host name); the host name itself when it has none.
std::string host_fqdn() {
    std::string name = local_hostname();
    if (name.find('.') != std::string::npos) {
        return name;
    }
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    addrinfo* found = nullptr;
    if (::getaddrinfo(name.c_str(), nullptr, &hints, &found) == 0) {
        if (found->ai_canonname != nullptr) {
            name = found->ai_canonname;
        }
        ::freeaddrinfo(found);
    }
    return name;
}

}  // namespace

std::string smtp_url_with_ehlo(std::string_view url, std::string_view ehlo_name) {
    size_t authority = url.find("://");
    authority = authority == std::string_view::npos ? 0 : authority + 3;
    size_t path = url.find_first_of("/?#", authority);
    return std::string(url.substr(0, path)) + "/" + http::percent_encode(ehlo_name);
}

bool smtp_url_names_ehlo(std::string_view url) {
    size_t authority = url.find("://");
    authority = authority == std::string_view::npos ? 0 : authority + 3;
    size_t path = url.find('/', authority);
    return path != std::string_view::npos && path + 1 < url.size() && url[path + 1] != '?' &&
           url[path + 1] != '#';
}

SmtpLimits smtp_limits(std::chrono::seconds reply) {
    return {std::chrono::milliseconds(reply) * 3 / 2, reply, reply, reply * 2};
}

SmtpChannel::SmtpChannel(const policy::ChannelConfig& config, http::Client& client,
                         SecretString password)
    : name_(config.name),
      url_(config.option("url")),
      username_(config.option("username")),
      from_(config.option("from")),
      subject_(config.option("subject")),
      body_template_(read_body_template(config.option("body_file"))),
      ca_file_(config.option("ca_file")),
      proxy_(config.option("proxy")),
      limits_(smtp_limits(config.timeout)),
      client_(client),
      password_(std::move(password)) {
    // libcurl says EHLO with the URL's path, or with the short host name without one; a
    // relay may refuse a name that is not fully qualified (RFC 5321 section 4.1.1.1).
    std::string ehlo_name = config.option("ehlo_name");
    if (!ehlo_name.empty() || !smtp_url_names_ehlo(url_)) {
        url_ = smtp_url_with_ehlo(url_, ehlo_name.empty() ? host_fqdn() : ehlo_name);
    }
}

void SmtpChannel::send(const OutgoingMessage& message, Done<void> done) {
    std::string channel = "smtp " + name_;
    http::Request request;
    try {
        std::string body = body_template_.empty()
                               ? std::string(message.text.view())
                               : fill_email_body(body_template_, message.text.view(), message.user,
                                                 local_hostname());
        // An administrator's subject is sent as written; lwauth's own in the message's
        // language.
        const std::string subject =
            subject_.empty() ? tr(message.language, N_("Your verification code")) : subject_;
        request.body = build_email(from_, message.destination, subject, body,
                                   std::chrono::system_clock::now(), new_message_id());
        wipe_string(body);
    } catch (const Error& e) {
        // The reason names the header, never its value (the address).
        done(send_failure(channel + ": " + e.what()));
        return;
    }
    request.url = url_;
    request.protocols = "smtp,smtps";
    request.mail_from = envelope_address(from_);
    request.mail_rcpt = {envelope_address(message.destination)};
    if (!username_.empty()) {
        request.username = username_;
        request.password = password_.clone();
    }
    request.connect_timeout = limits_.connect;
    request.reply_timeout = limits_.reply;
    request.stall_timeout = limits_.stall;
    request.timeout = limits_.transaction;
    request.ca_file = ca_file_;
    request.proxy = proxy_;
    send_classified(client_, std::move(request), channel, classify_smtp, std::move(done));
}

Result<void> classify_smtp(const std::string& channel, const http::Response& response) {
    if (response.error.empty()) {
        // libcurl ends a mail transfer without error only once the server accepted the
        // message (250 after the final dot).
        return {};
    }
    bool refused = response.status >= 400 && response.status < 600;
    if (response.mail_data_sent && !refused) {
        // The final "." went out and no refusal came back: the server may well have
        // accepted the message (RFC 5321 section 6.1 keeps it from then on). Another
        // channel now would send the code twice, so this counts as delivered.
        log_event(LogLevel::Warning, "gateway-odd-answer",
                  channel + ": no reply after the end of the message (" + response.error +
                      "); counting the message as delivered");
        return {};
    }
    if (response.timed_out) {
        return send_failure(channel + ": no answer in time", true);
    }
    std::string code = std::to_string(response.status);
    if (response.status >= 500 && response.status < 600) {
        return send_failure(channel + ": " + permanent_reason(response.status) + " (SMTP " + code +
                            ")");
    }
    if (response.status >= 400 && response.status < 500) {
        return send_failure(channel + ": the server deferred the message (SMTP " + code + ")",
                            true);
    }
    // No SMTP refusal: the connection, TLS (a server without STARTTLS included, which gets
    // nothing in clear) or the protocol broke down.
    return send_failure(channel + ": " + response.error, true);
}

}  // namespace lwauth
