// The PAM conversation of the tests under tests/pam, as an application implements it.
#pragma once

#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

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
        if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) {
            continue;
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

}  // namespace lwauth::test
