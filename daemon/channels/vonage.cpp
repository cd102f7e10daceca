#include "vonage.hpp"

#include "gateway.hpp"

#include <nlohmann/json.hpp>

#include "../http/url.hpp"
#include "../log.hpp"

namespace lwauth {
namespace {

// Vonage SMS API message statuses, and what they mean for an administrator.
// https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms
struct VonageStatus {
    int status;
    bool retryable;
    const char* reason;
};
constexpr VonageStatus kStatuses[] = {
    {1, true, "throttled: more messages than the account may send per second"},
    {2, false, "a required parameter is missing from the request"},
    {3, false, "a parameter is invalid: check 'from' and the destination number"},
    {4, false, "invalid credentials: check api_key and api_secret_file"},
    {5, true, "Vonage had an internal error"},
    {6, false, "Vonage could not route the message (invalid message)"},
    {7, false, "the destination number is barred (blocked or opted out)"},
    {8, false, "the Vonage account is barred (suspended)"},
    {9, false, "the Vonage account has no credit left (partner quota exceeded)"},
    {10, true, "too many simultaneous connections to Vonage (too many existing binds)"},
    {11, false, "the Vonage account is not enabled for the HTTP API"},
    {12, false, "the message is too long"},
    {14, false, "the request signature was refused (invalid signature)"},
    {15, false, "the sender address ('from') is not allowed (invalid sender address)"},
    {22, false, "the network code is invalid"},
    {23, false, "the callback URL is invalid"},
    {29, false,
     "the destination is not on the account's list of allowed test numbers "
     "(non-whitelisted destination)"},
    {32, false, "the account requires signed requests, not an API secret"},
    {33, false, "the destination number has been deactivated"},
};

// A part's status as an integer, or -1 when it is missing or not a number.
int status_of(const nlohmann::json& part) {
    if (!part.is_object() || !part.contains("status")) {
        return -1;
    }
    const auto& s = part["status"];
    if (s.is_number_integer()) {
        return s.get<int>();
    }
    if (s.is_string()) {
        const auto& text = s.get_ref<const std::string&>();
        if (text.empty() || text.size() > 6 ||
            text.find_first_not_of("0123456789") != std::string::npos) {
            return -1;
        }
        return std::stoi(text);
    }
    return -1;
}

// The GSM 03.38 default alphabet (3GPP TS 23.038 section 6.2.1, without the escape) and
// its extension table (section 6.2.1.1), which Vonage's type=text carries (an extension
// character as two septets).
constexpr std::u32string_view kGsmAlphabet =
    U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    U"\f^{}\\[~]|€";

// The next character of UTF-8 text at `at` (moved past it), or U+FFFD for a byte that does
// not start a well-formed sequence (RFC 3629 section 3: no overlong form, no surrogate).
char32_t next_character(std::string_view text, size_t& at) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char lead = byte(at++);
    if (lead < 0x80) {
        return lead;
    }
    size_t extra = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc2 ? 1 : 0;
    if (extra == 0 || lead > 0xf4 || at + extra > text.size()) {
        return U'\uFFFD';
    }
    char32_t c = lead & (0x3f >> extra);
    for (size_t i = 0; i < extra; ++i) {
        if ((byte(at + i) & 0xc0) != 0x80) {
            return U'\uFFFD';
        }
        c = (c << 6) | (byte(at + i) & 0x3f);
    }
    constexpr char32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (c < kSmallest[extra] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return U'\uFFFD';
    }
    at += extra;
    return c;
}

}  // namespace

std::string_view vonage_type(std::string_view text) {
    for (size_t at = 0; at < text.size();) {
        if (kGsmAlphabet.find(next_character(text, at)) == std::u32string_view::npos) {
            return "unicode";
        }
    }
    return "text";
}

std::string vonage_sender(std::string_view from) {
    std::string_view digits = from;
    if (digits.starts_with('+')) {
        digits.remove_prefix(1);
    } else if (digits.starts_with("00")) {
        digits.remove_prefix(2);
    }
    bool numeric = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
    return std::string(numeric ? digits : from);
}

std::string vonage_form(const std::string& api_key, std::string_view api_secret,
                        const std::string& from, const std::string& destination,
                        std::string_view text) {
    std::string_view to = destination;
    if (!to.empty() && to.front() == '+') {
        to.remove_prefix(1);
    }
    return "api_key=" + http::percent_encode(api_key) +
           "&api_secret=" + http::percent_encode(api_secret) +
           "&from=" + http::percent_encode(vonage_sender(from)) +
           "&to=" + http::percent_encode(to) + "&text=" + http::percent_encode(text) +
           "&type=" + std::string(vonage_type(text));
}

VonageChannel::VonageChannel(const policy::ChannelConfig& config, http::Client& client,
                             SecretString api_secret)
    : name_(config.name),
      api_key_(config.option("api_key")),
      from_(config.option("from")),
      base_url_(config.option("base_url")),
      ca_file_(config.option("ca_file")),
      proxy_(config.option("proxy")),
      timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout)),
      client_(client),
      api_secret_(std::move(api_secret)) {
    if (base_url_.empty()) {
        base_url_ = "https://rest.nexmo.com";
    }
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
}

void VonageChannel::send(const OutgoingMessage& message, Done<void> done) {
    http::Request request;
    request.url = base_url_ + "/sms/json";
    request.headers = {"Content-Type: application/x-www-form-urlencoded",
                       "Accept: application/json"};
    request.body =
        vonage_form(api_key_, api_secret_.view(), from_, message.destination, message.text.view());
    request.timeout = timeout_;
    request.ca_file = ca_file_;
    request.proxy = proxy_;
    send_classified(client_, std::move(request), "vonage " + name_, classify_vonage,
                    std::move(done));
}

Result<void> classify_vonage(const std::string& channel, const http::Response& response) {
    if (auto got = answered(channel, response); !got) {
        return got;
    }
    if (response.status < 200 || response.status >= 300) {
        bool retryable = response.status == 429 || response.status >= 500;
        return send_failure(channel + ": answered HTTP " + std::to_string(response.status),
                            retryable);
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    const nlohmann::json* parts = nullptr;
    if (body.is_object() && body.contains("messages") && body["messages"].is_array() &&
        !body["messages"].empty()) {
        parts = &body["messages"];
    }
    if (parts == nullptr) {
        // Vonage said 200 but the answer is unreadable. Sending again could deliver the
        // code twice, so this counts as delivered, and the oddity is logged.
        log_event(LogLevel::Warning, "gateway-odd-answer",
                  channel + ": HTTP " + std::to_string(response.status) +
                      " without message statuses; counting the message as accepted");
        return {};
    }
    int accepted = 0;
    int refused = -1;  // the first status other than 0
    for (const auto& part : *parts) {
        int status = status_of(part);
        if (status == 0) {
            ++accepted;
        } else if (refused == -1) {
            refused = status < 0 ? -2 : status;
        }
    }
    if (refused == -1) {
        return {};
    }
    if (accepted > 0) {
        // Part of the text went out: sending it again would repeat it.
        log_event(LogLevel::Warning, "gateway-odd-answer",
                  channel +
                      ": Vonage accepted only some parts of the message; counting it "
                      "as accepted");
        return {};
    }
    if (refused == -2) {
        return send_failure(channel + ": answered without a readable message status");
    }
    for (const auto& known : kStatuses) {
        if (known.status == refused) {
            return send_failure(
                channel + ": " + known.reason + " (Vonage status " + std::to_string(refused) + ")",
                known.retryable);
        }
    }
    return send_failure(channel + ": refused the message (Vonage status " +
                        std::to_string(refused) + ")");
}

}  // namespace lwauth
