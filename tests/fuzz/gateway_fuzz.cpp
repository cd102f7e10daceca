// The gateways' answer parsers over an arbitrary HTTP status and body (for SMTP, the last
// reply code and libcurl's outcome). The input: one byte naming the gateway (its value
// modulo 6: Twilio, Vonage, LINE, LINE WORKS, webhook, SMTP), two bytes of status
// (big-endian, modulo 1000), one byte of flags (1: timed out, 2: the mail's data went
// out, 4: a transport error), then the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "channels/line_push.hpp"
#include "channels/lineworks.hpp"
#include "channels/smtp.hpp"
#include "channels/twilio.hpp"
#include "channels/vonage.hpp"
#include "channels/webhook.hpp"
#include "http/http_client.hpp"
#include "line/oidc.hpp"

namespace {

void parse(uint8_t gateway, const lwauth::http::Response& response) {
    const std::string channel = "fuzz";
    switch (gateway % 6) {
        case 0:
            (void)lwauth::classify_twilio(channel, response);
            break;
        case 1:
            (void)lwauth::classify_vonage(channel, response);
            break;
        case 2:
            // The Messaging API's push answer, and LINE Login's token endpoint answer.
            (void)lwauth::classify_line(channel, response);
            (void)lwauth::line::parse_token_answer(response);
            break;
        case 3:
            (void)lwauth::parse_lineworks_token(channel, response, "bot.message");
            (void)lwauth::classify_lineworks(channel, response);
            break;
        case 4:
            (void)lwauth::classify_http(channel, response);
            break;
        default:
            (void)lwauth::classify_smtp(channel, response);
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) {
        return 0;
    }
    lwauth::http::Response response;
    response.status = ((long{data[1]} << 8) | data[2]) % 1000;
    response.timed_out = (data[3] & 1) != 0;
    response.mail_data_sent = (data[3] & 2) != 0;
    if ((data[3] & 4) != 0) {
        response.error = "Connection reset by peer";
    }
    response.body.assign(reinterpret_cast<const char*>(data) + 4, size - 4);
    parse(data[0], response);
    return 0;
}
