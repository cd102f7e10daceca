// Email through an SMTP server (the site's relay or a mail provider's submission port):
//
//   smtp://host:587   plain connection upgraded with STARTTLS; a server that does not offer
//                     STARTTLS gets nothing (no fallback to clear text)
//   smtps://host:465  TLS from the first byte
//
// The certificate is always verified (ca_file, else the system's CA store). With
// `username`, the channel authenticates (AUTH PLAIN/LOGIN...) with the password from
// password_file, only ever over TLS. Each code is one RFC 5322 message, text/plain in
// UTF-8, sent on lwauthd's libcurl multi so that the loop never blocks.
//
// The body is the code's message line, or, with `body_file`, that file's text with
// {message} (required), {user} and {hostname} filled in; the subject is `subject`.
//
// Each stage has its own limit (RFC 5321 section 4.5.3.2, scaled to a login that waits):
// see smtp_limits. EHLO names this host by its FQDN, or `ehlo_name`.
//
// An accepted message (250 after DATA) is delivered. A broken connection, a TLS failure,
// a timeout or a 4xx reply is worth another try; a 5xx reply (550 unknown mailbox, 535
// refused credentials...) is permanent. Once the final "." has gone out, only a refusal
// of the message (4xx/5xx) fails it: a timeout or a broken connection then counts as
// delivered, with a warning, because the server may have taken it and a fallback would
// send the code twice. Reasons never name the address.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "channel.hpp"
#include "http/http_client.hpp"

namespace lwauth {

/// How long each stage of a mail transaction may take, from the channel's `timeout` (the
/// wait for each reply): connecting (DNS, TCP, TLS, the 220 greeting, EHLO, STARTTLS,
/// AUTH) 1.5 x, each reply (greeting, MAIL, RCPT, DATA's 354, the reply to the final ".")
/// 1 x, the message upload stalled (no byte taken) 1 x, the whole transaction 2 x; with
/// the default 10 s: 15 s, 10 s, 10 s and 20 s, inside pam_lwauth's default timeout=30.
struct SmtpLimits {
    std::chrono::milliseconds connect;
    std::chrono::seconds reply;
    std::chrono::seconds stall;
    std::chrono::milliseconds transaction;
};
[[nodiscard]] SmtpLimits smtp_limits(std::chrono::seconds reply);

/// Whether an smtp:// or smtps:// URL has a path, which libcurl says EHLO with: kept, as
/// the administrator's choice, unless ehlo_name is set.
[[nodiscard]] bool smtp_url_names_ehlo(std::string_view url);

/// The smtp:// or smtps:// URL with its path (which libcurl says EHLO with) set to
/// `ehlo_name`, percent-encoded.
[[nodiscard]] std::string smtp_url_with_ehlo(std::string_view url, std::string_view ehlo_name);

class SmtpChannel final : public Channel {
  public:
    /// `password` is used only when the policy sets `username`. Throws Error(Internal)
    /// when body_file cannot be read or has no {message}.
    SmtpChannel(const policy::ChannelConfig& config, http::Client& client, SecretString password);
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

  private:
    std::string name_;
    std::string url_;
    std::string username_;
    std::string from_;
    std::string subject_;
    std::string body_template_;  // empty: the message line alone
    std::string ca_file_;
    std::string proxy_;
    SmtpLimits limits_;
    http::Client& client_;
    SecretString password_;
};

/// The whole message, as handed to the server: Date (UTC), Message-ID, From and To (a
/// display name that is not ASCII in RFC 2047 encoded-words), Subject (the same),
/// MIME-Version, Content-Type text/plain UTF-8, Content-Transfer-Encoding and a blank line,
/// then `text` as encode_mail_body gives it; every line ends with CRLF, and no byte has its
/// high bit set.
/// `message_id` is the header's value, with its angle brackets. Throws
/// Error(InvalidArgument) when a header value holds CR, LF or another control character,
/// so no header can be injected.
[[nodiscard]] std::string build_email(std::string_view from, std::string_view to,
                                      std::string_view subject, std::string_view text,
                                      std::chrono::system_clock::time_point now,
                                      std::string_view message_id);

/// A body template with {message}, {user} and {hostname} replaced; other text, braces
/// included, stays as written.
[[nodiscard]] std::string fill_email_body(std::string_view body_template, std::string_view message,
                                          std::string_view user, std::string_view hostname);

/// An unstructured header value as RFC 5322 wants it: unchanged when printable ASCII, else
/// RFC 2047 "=?UTF-8?B?...?=" words (whole UTF-8 characters each) folded with CRLF SP.
[[nodiscard]] std::string encode_header_text(std::string_view value);

/// A From or To value ("Name <a@b>", "\"Name\" <a@b>" or "a@b") with a display name that
/// is not printable ASCII made RFC 2047 encoded-words (RFC 2047 section 5 (3); the
/// quotes dropped), folded with CRLF SP so that no line of the `header` passes 78
/// characters; any other value unchanged.
[[nodiscard]] std::string encode_mailbox(std::string_view header, std::string_view mailbox);

/// A text body and the Content-Transfer-Encoding it travels in.
struct MailBody {
    std::string transfer_encoding;  // "7bit" or "base64"
    std::string text;               // its lines, each ending with CRLF
};

/// The text with CRLF line breaks, as it is ("7bit") when it is printable US-ASCII in lines
/// of at most 998 octets, else base64 in lines of 76 characters (RFC 2045 section 6.8):
/// never 8bit, which needs the server's 8BITMIME and libcurl never asks for it.
[[nodiscard]] MailBody encode_mail_body(std::string_view text);

/// The envelope address of a From value: "Name <a@b>" and "a@b" both give "<a@b>".
[[nodiscard]] std::string envelope_address(std::string_view from);

/// What the end of an SMTP transaction means for the message (see http::Response::status).
[[nodiscard]] Result<void> classify_smtp(const std::string& channel,
                                         const http::Response& response);

}  // namespace lwauth
