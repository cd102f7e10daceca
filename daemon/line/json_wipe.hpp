// A parsed JSON value that held secrets (an ID token's claims, a token endpoint's
// answer) wiped string by string when it goes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "lwauth/secret.hpp"

namespace lwauth::line {

inline void wipe_json_strings(nlohmann::json& value) noexcept {
    if (value.is_string()) {
        wipe_string(value.get_ref<std::string&>());
    }
    if (value.is_structured()) {
        for (auto& item : value) {
            wipe_json_strings(item);
        }
    }
}

/// Wipes every string of `value` when the scope ends.
class JsonWipe {
  public:
    explicit JsonWipe(nlohmann::json& value) noexcept : value_(value) {}
    ~JsonWipe() { wipe_json_strings(value_); }
    JsonWipe(const JsonWipe&) = delete;
    JsonWipe& operator=(const JsonWipe&) = delete;

  private:
    nlohmann::json& value_;
};

}  // namespace lwauth::line
