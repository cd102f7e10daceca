// What the LINE endpoint takes from a request before and after LINE answers: the
// Accept-Language header (page_language), the one-time tokens of the short link's `k`
// and the confirmation form's `confirm` (Links::take), the page rendered with the
// browser's language, and the token endpoint's answer to the callback's code
// (parse_token_answer). The input's lines: Accept-Language, a link token, a page text,
// then the token endpoint's JSON answer (the rest).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "http/http_client.hpp"
#include "line/flows_pages.hpp"
#include "line/links.hpp"
#include "line/oidc.hpp"

namespace {

std::vector<std::string> split_lines(const std::string& text, size_t parts) {
    std::vector<std::string> out;
    size_t begin = 0;
    while (out.size() + 1 < parts) {
        size_t end = text.find('\n', begin);
        if (end == std::string::npos) {
            break;
        }
        out.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    out.push_back(begin <= text.size() ? text.substr(begin) : "");
    out.resize(parts);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lwauth;
    auto parts = split_lines(std::string(reinterpret_cast<const char*>(data), size), 4);
    const Language language = line::page_language(parts[0], Language::En);
    (void)line::render_page({parts[2], parts[2]}, language);

    test::FakeClock clock;
    test::SeededRandom random;
    line::Links links(clock, random, 4);
    auto real = links.add(line::Link{"1", {}, 0}, 600);
    (void)links.take(parts[1]);
    if (real && parts[1] != *real && !links.take(*real)) {
        abort();  // a wrong token took or spoiled another login's link
    }

    http::Response response;
    response.status = 200;
    response.body = parts[3];
    (void)line::parse_token_answer(response);
    return 0;
}
