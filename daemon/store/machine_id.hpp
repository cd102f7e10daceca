// What names this machine in a store that many machines share ([store] backend =
// postgresql): not the host's name, which clones of one image, `localhost` and a renamed
// host share or lose, but an identifier derived from /etc/machine-id as systemd recommends
// (sd_id128_get_machine_app_specific(3)): stable for the machine, different for every
// application, and not the machine ID itself, which must not leave the machine.
#pragma once

#include <filesystem>
#include <string>

namespace lwauth {

/// Where systemd keeps the machine ID; lwauthd's --machine-id-file replaces it (tests).
inline constexpr const char* kMachineIdFile = "/etc/machine-id";

/// lwauthd's identifier for this machine: 32 lowercase hex digits, the app-specific ID of
/// the machine ID in `machine_id_file` under lwauthd's application ID (the default file
/// through sd_id128_get_machine_app_specific itself, another by the same derivation).
/// Throws Error(Internal) saying how to make one (systemd-machine-id-setup) when the file
/// is missing, empty, "uninitialized" or holds no valid ID.
[[nodiscard]] std::string machine_key(const std::filesystem::path& machine_id_file);

}  // namespace lwauth
