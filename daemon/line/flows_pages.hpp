// The pages the LINE flows show on the phone: minimal HTML, every value escaped, no
// script, image or external resource (the endpoint's CSP allows none), a viewport for
// phones.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/i18n.hpp"

namespace lwauth::line {

/// A page with a title and one paragraph, as msgids (N_()): translated when rendered.
struct PageText {
    std::string title;
    std::string text;
};

/// The confirmation page: what the approval is for, and a POST form with the one-time
/// `confirm` token as a hidden field and one `number` button per choice.
struct ConfirmPage {
    bool link = false;  // linking an account rather than a login
    std::string user;
    std::string host;
    std::string service;
    std::string rhost;        // "" for a local session
    int64_t started_at = 0;   // when the approval was offered (seconds since the epoch)
    std::string action;       // the form's path
    std::string confirm_token;
    std::vector<int> choices;
};

/// `text` with &, <, >, " and ' as character references.
[[nodiscard]] std::string html_escape(std::string_view text);

/// The language of a page for a browser's Accept-Language (RFC 9110 section 12.5.4):
/// the lwauth language of highest weight among ja and en, else `fallback`.
[[nodiscard]] Language page_language(std::string_view accept_language, Language fallback);

[[nodiscard]] std::string render_page(const PageText& page, Language language);
[[nodiscard]] std::string render_confirm_page(const ConfirmPage& page, Language language);

}  // namespace lwauth::line
