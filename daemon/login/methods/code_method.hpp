// 2-step verification: a one-time code sent to one of the user's verified contacts.
// Typing `r` asks for a new code (after the resend interval, within the send caps).
#pragma once

#include "../method.hpp"

namespace lwauth {

class CodeMethod final : public LoginMethod {
  public:
    Step begin(const MethodEnv& env) override;
    Step answer(const MethodEnv& env, std::string_view answer) override;

  private:
    enum class SendResult { Sent, RateLimited, Failed };
    /// Draws and sends a new code, adding to step the line that tells the user what
    /// happened. The previous code stays valid unless the new one was sent.
    SendResult send_new_code(const MethodEnv& env, Step& step);
    [[nodiscard]] Step prompt(Step step) const;
    Step wrong_code(const MethodEnv& env);

    Digest code_hash_{};
    bool has_code_ = false;
    int64_t code_expires_ = 0;
    int64_t last_sent_ = 0;
    int tries_left_ = 0;
};

}  // namespace lwauth
