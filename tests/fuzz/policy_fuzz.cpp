// The policy loader over one lwauth.conf text, as lwauthctl policy check and lwauthd read
// it: every byte sequence must come back as a policy or as diagnostics.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lwauth/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto result = lwauth::policy::load_texts({{"lwauth.conf", std::move(text)}});
    for (const auto& diagnostic : result.errors) {
        (void)diagnostic.to_string();
    }
    return 0;
}
