// The outbox channel: appends one JSON line per message to a file (mode 0600). It is for
// the demo and tests, which read codes from it; it delivers to nobody.
#pragma once

#include "channel.hpp"

namespace lwauth {

class OutboxChannel final : public Channel {
  public:
    OutboxChannel(std::string name, std::string path)
        : name_(std::move(name)), path_(std::move(path)) {}
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

  private:
    /// Appends the line; throws Error(DeliveryFailed) saying why.
    void append(const OutgoingMessage& message);

    std::string name_;
    std::string path_;
};

}  // namespace lwauth
