// How the channel tests read the Result<void> a send ended with.
#pragma once

#include <string>

#include "channels/channel.hpp"

namespace lwauth {

/// Whether the send (or the step of one) failed in a way a later try may mend.
template <class T>
bool retryable(const Result<T>& sent) {
    return !sent.ok() && retryable(sent.error());
}

/// Why the send (or the step of one) failed; "" when it did not.
template <class T>
std::string reason_of(const Result<T>& sent) {
    return sent.ok() ? std::string() : std::string(sent.error().what());
}

}  // namespace lwauth
