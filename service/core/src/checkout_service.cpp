// CheckoutService (see checkout_service.h): the constructor and generated passwords.
// The rules themselves are in request.cpp, decisions.cpp, lifecycle.cpp,
// takeback.cpp, run_due.cpp and secrets.cpp.
#include "keyholder/core/checkout_service.h"

#include <Poco/RandomStream.h>

#include <algorithm>

namespace keyholder::core {

CheckoutService::CheckoutService(const config::Config& config, store::Connection& store, Authority& authority,
                                 const Clock& clock, const SecretVault* vault)
    : config_(config), store_(store), authority_(authority), clock_(clock), vault_(vault) {}

std::string generate_password(size_t length) {
    static const std::string upper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    static const std::string lower = "abcdefghijkmnopqrstuvwxyz";
    static const std::string digits = "23456789";
    static const std::string symbols = "!#%+-.:=?@_~";
    const std::string all = upper + lower + digits + symbols;
    length = std::max<size_t>(length, 16);
    Poco::RandomInputStream random;
    auto pick = [&](const std::string& from) {
        // Rejection sampling: no modulo bias.
        const unsigned limit = 256 - (256 % from.size());
        while (true) {
            unsigned char c = static_cast<unsigned char>(random.get());
            if (c < limit) return from[c % from.size()];
        }
    };
    std::string password;
    for (const auto* set : {&upper, &lower, &digits, &symbols})
        password += pick(*set);
    while (password.size() < length)
        password += pick(all);
    // Shuffle so the four guaranteed classes are not always first.
    for (size_t i = password.size() - 1; i > 0; --i) {
        size_t j = static_cast<unsigned char>(random.get()) % (i + 1);
        std::swap(password[i], password[j]);
    }
    return password;
}

} // namespace keyholder::core
