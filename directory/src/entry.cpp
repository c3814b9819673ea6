// Entry: a search result as both LDAP libraries' sessions return it (see session.h).
#include <algorithm>
#include <cctype>

#include "session.h"

namespace keyholder::directory::detail {
namespace {

const std::vector<std::string> kNoValues;

} // namespace

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

const std::vector<std::string>& Entry::values(const std::string& name) const {
    auto found = attributes.find(lowercase(name));
    return found == attributes.end() ? kNoValues : found->second;
}

std::string Entry::first(const std::string& name) const {
    const auto& list = values(name);
    return list.empty() ? std::string() : list.front();
}

} // namespace keyholder::directory::detail
