// pam_lwauth's argument parser (pam_module/options.cpp), as libpam hands it the module's
// arguments from a PAM configuration line: the input's lines are the arguments.
#include <security/pam_appl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "options.hpp"

namespace {

pam_handle_t* handle() {
    static pam_handle_t* pamh = [] {
        static const pam_conv conv{nullptr, nullptr};
        pam_handle_t* h = nullptr;
        if (pam_start("lwauth-fuzz", "fuzz", &conv, &h) != PAM_SUCCESS) {
            abort();
        }
        return h;
    }();
    return pamh;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> args;
    std::string text(reinterpret_cast<const char*>(data), size);
    size_t begin = 0;
    while (begin <= text.size()) {
        size_t end = text.find('\n', begin);
        if (end == std::string::npos) {
            end = text.size();
        }
        args.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    std::vector<const char*> argv;
    for (const auto& arg : args) {
        argv.push_back(arg.c_str());
    }
    lwauth::Options options;
    int rc = lwauth::parse_options(handle(), static_cast<int>(argv.size()), argv.data(), options);
    if (rc == PAM_SUCCESS && (options.timeout_usec < lwauth::kUsecPerSec ||
                              options.timeout_usec > 3600 * lwauth::kUsecPerSec)) {
        abort();  // a timeout outside 1-3600 s passed the parser
    }
    return 0;
}
