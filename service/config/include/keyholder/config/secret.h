// Secret: a password or key read from a file or the environment. It has no stream
// operator and no implicit conversion, so it cannot end up in a log line by
// accident, and its memory is wiped when it goes away.
#pragma once

#include <string>
#include <utility>

namespace keyholder::config {

class Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}
    Secret(const Secret&) = default;
    Secret& operator=(const Secret&) = default;
    Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    Secret& operator=(Secret&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~Secret() { wipe(); }

    /// reveal: the value, for the one call that needs it (a bind, an SMTP login).
    [[nodiscard]] const std::string& reveal() const { return value_; }
    [[nodiscard]] bool empty() const { return value_.empty(); }

private:
    void wipe() noexcept {
        volatile char* p = value_.data();
        for (size_t i = 0; i < value_.size(); ++i)
            p[i] = 0;
        value_.clear();
    }
    std::string value_;
};

} // namespace keyholder::config
