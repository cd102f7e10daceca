// The LINE endpoint's request handling: the handlers of LineFlows (the short link, LINE's
// callback, the confirmation form) called directly with a request built from the input,
// as the server hands them one after its own screening, no connection involved. Each
// input gets fresh flows with one approval offered; the random source gives only zero
// bytes, so that the input can name that approval's link token, OAuth state and
// confirmation token (see below) and reach the paths past them.
//
// The input is requests, one after the other, separated by lines "--". A request's lines:
// the route ('l' the short link, 'c' the callback, anything else the confirmation form)
// and method ("HEAD" or not) on the first, Accept-Language on the second, then NAME=VALUE
// lines (the query, or the form for the confirmation). A value "\1" stands for the
// approval's link token, "\2" for its OAuth state (known once the link was opened), "\3"
// for a confirmation token.
#include <sys/stat.h>
#include <systemd/sd-event.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "http/http_client.hpp"
#include "http/server.hpp"
#include "line/flows.hpp"
#include "line/pkce.hpp"
#include "lwauth/sd_bus.hpp"
#include "timers.hpp"

namespace lwauth {
namespace {

// The directory of the channel secret: gone when the fuzzer exits normally (a crash
// leaves it for the replay).
char secret_dir[] = "/tmp/lwauth-fuzz-line.XXXXXX";

// The channel secret, in a file of mode 0600 as [line] channel_secret_file wants it.
const std::filesystem::path& secret_file() {
    static const std::filesystem::path path = [] {
        if (mkdtemp(secret_dir) == nullptr) {
            abort();
        }
        std::atexit([] { std::filesystem::remove_all(secret_dir); });
        std::filesystem::path file = std::filesystem::path(secret_dir) / "channel.secret";
        std::ofstream(file) << "0123456789abcdef0123456789abcdef\n";
        chmod(file.c_str(), 0600);
        return file;
    }();
    return path;
}

policy::Policy line_policy() {
    policy::Policy p;
    p.line.channel_id = "1234567890";
    p.line.channel_secret_file = secret_file();
    p.line.public_url = "https://login.example.com/lwauth";
    p.line.listen = "127.0.0.1:0";
    // Never reached: the loop never runs, so no request leaves.
    p.line.token_url = "http://127.0.0.1:9/token";
    p.line.jwks_url = "http://127.0.0.1:9/certs";
    return p;
}

std::vector<std::string> lines_of(const uint8_t* data, size_t size) {
    std::vector<std::string> lines;
    std::string text(reinterpret_cast<const char*>(data), size);
    size_t begin = 0;
    while (begin <= text.size()) {
        size_t end = text.find('\n', begin);
        end = end == std::string::npos ? text.size() : end;
        lines.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return lines;
}

// The request of the input's lines, with the tokens it names filled in.
http::IncomingRequest request_of(const std::vector<std::string>& lines, const std::string& link,
                                 const std::string& state) {
    http::IncomingRequest request;
    const std::string& route = lines[0];
    request.method = route.find("HEAD") != std::string::npos ? "HEAD" : "GET";
    request.path = route.starts_with('l')   ? "/lwauth/l"
                   : route.starts_with('c') ? "/lwauth/line/callback"
                                            : "/lwauth/line/confirm";
    const bool form = request.path.ends_with("/confirm");
    if (form) {
        request.method = "POST";
    }
    request.client_address = "192.0.2.1";
    request.accept_language = lines.size() > 1 ? lines[1] : "";
    for (size_t i = 2; i < lines.size(); ++i) {
        auto eq = lines[i].find('=');
        std::string name = lines[i].substr(0, eq);
        std::string value = eq == std::string::npos ? "" : lines[i].substr(eq + 1);
        if (value == "\1" || value == "\3") {
            value = link;  // a confirmation token is drawn from the same zero bytes
        } else if (value == "\2") {
            value = state;
        }
        (form ? request.form : request.query)[name] = value;
    }
    return request;
}

}  // namespace
}  // namespace lwauth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lwauth;
    sd_event* raw = nullptr;
    if (sd_event_new(&raw) < 0) {
        abort();
    }
    EventPtr event(raw);
    test::FakeClock clock;
    test::ScriptedRandom random({}, 0);
    Hasher hasher(SecretString(std::string(32, 'k')));
    EventTimers timers(event.get());
    auto client = std::make_unique<http::Client>(event.get());
    line::FlowsOptions options;
    options.hostname = "fuzzhost";
    auto flows = std::make_unique<line::LineFlows>(
        line::FlowsDeps{event.get(), *client, clock, random, timers, hasher}, line_policy(),
        options);

    line::ApprovalRequest approval;
    approval.user = "taro";
    approval.service = "sshd";
    approval.owner = "login-1";
    auto offered = flows->offer(approval, [](const line::ApprovalOutcome&) {});
    if (!offered) {
        abort();
    }
    test::ScriptedRandom zeros({}, 0);
    const std::string state = line::new_auth_request(zeros).state;
    const std::string link = offered->url.substr(offered->url.find("k=") + 2);

    std::vector<std::string> block;
    auto serve = [&] {
        if (block.empty()) {
            return;
        }
        auto request = request_of(block, link, state);
        block.clear();
        const http::Handler* handler = flows->server()->handler(
            request.path, request.method == "POST" ? http::Method::Post : http::Method::Get);
        if (handler != nullptr) {
            // A Reply of no connection: what the handler answers goes nowhere, as for a
            // client that left.
            (*handler)(request, http::Reply(nullptr));
        }
    };
    for (auto& line : lines_of(data, size)) {
        if (line == "--") {
            serve();
        } else {
            block.push_back(std::move(line));
        }
    }
    serve();
    client.reset();  // drops a token request in flight, whose callback points at flows
    flows.reset();
    return 0;
}
