// lwauthd adds nothing to its own methods (extensions.hpp).
#include "extensions.hpp"

namespace lwauth {

std::shared_ptr<void> add_extensions(const DaemonParts&) {
    return nullptr;
}

}  // namespace lwauth
