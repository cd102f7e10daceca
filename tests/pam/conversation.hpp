// The PAM conversation of the tests under tests/pam, as an application implements it.
#pragma once

#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "harness.hpp"

namespace lwauth::test {

/// What the person does with one message (its style and text): the reply to a prompt,
/// nullopt to fail the conversation; ignored for other messages.
using Reply = std::function<std::optional<std::string>(int style, const std::string& text)>;

/// A conversation function's body: every message goes to `reply`, in order; the replies
/// to the prompts are sent back (PAM_CONV_ERR, nothing sent, when one is nullopt).
inline int reply_each(int n, const struct pam_message** msg, struct pam_response** resp,
                      const Reply& reply) {
    auto* replies = static_cast<struct pam_response*>(
        calloc(static_cast<size_t>(n), sizeof(struct pam_response)));
    if (replies == nullptr) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < n; ++i) {
        int style = msg[i]->msg_style;
        std::optional<std::string> answer = reply(style, msg[i]->msg ? msg[i]->msg : "");
        // What the module showed and what was typed, for tests/leak_audit.py.
        keep_note("conversation", msg[i]->msg ? msg[i]->msg : "");
        if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) {
            continue;
        }
        if (answer) {
            keep_note("answers", *answer);
        }
        if (!answer) {
            for (int j = 0; j < i; ++j) {
                free(replies[j].resp);
            }
            free(replies);
            return PAM_CONV_ERR;
        }
        replies[i].resp = strdup(answer->c_str());
    }
    *resp = replies;
    return PAM_SUCCESS;
}

/// reply_each for a person who reads everything: every message and prompt is added to
/// `shown`, a line each, and `prompt` answers the prompts alone.
inline int reply_reading(
    int n, const struct pam_message** msg, struct pam_response** resp, std::string& shown,
    const std::function<std::optional<std::string>(const std::string& text)>& prompt) {
    return reply_each(n, msg, resp, [&](int style, const std::string& text) {
        shown += text + "\n";
        if (style == PAM_TEXT_INFO || style == PAM_ERROR_MSG) {
            return std::optional<std::string>();
        }
        return prompt(text);
    });
}

}  // namespace lwauth::test
