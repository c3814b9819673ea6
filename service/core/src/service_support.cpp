// Errors, audit details and small conversions shared by the parts of CheckoutService.
#include <Poco/JSON/Object.h>

#include "keyholder/json/writer.h"
#include "keyholder/store/audit.h"
#include "service_internal.h"

namespace keyholder::core::detail {

CoreError error(Kind kind, std::string code, std::string message) {
    return CoreError{kind, std::move(code), std::move(message)};
}

Outcome<std::string> field_text(const std::string& field, std::string_view value, text::Lines lines,
                                size_t max_characters) {
    auto checked = text::check(value, lines, max_characters);
    if (!checked.problem) return std::move(*checked.text);
    if (*checked.problem == text::Problem::too_long)
        return std::unexpected(error(Kind::invalid, field + "_too_long",
                                     field + " is over " + std::to_string(max_characters) + " characters"));
    if (*checked.problem == text::Problem::line_break)
        return std::unexpected(error(Kind::invalid, "line_break", field + " is one line: no line breaks"));
    return std::unexpected(
        error(Kind::invalid, text::code(*checked.problem), field + " contains control characters or is not UTF-8"));
}

CoreError from_directory(const directory::DirectoryError& e, const std::string& who) {
    if (e.kind == directory::DirectoryError::Kind::not_found)
        return error(Kind::forbidden, "unknown_user", "no such user in the directory: " + who);
    return error(Kind::unavailable, "directory_unavailable",
                 "the directory did not answer (" + e.message + "); nothing was recorded, try again later");
}

std::string json(Fields fields) {
    Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [k, v] : fields)
        object.set(k, v);
    return json::text(object);
}

void audit(store::Transaction& tx, int64_t at, const std::string& actor, const std::string& action,
           const std::string& subject, const std::string& details) {
    store::append_audit_event(tx, {at, actor, action, subject, details});
}

std::string subject(const char* kind, int64_t id) { return std::string(kind) + ":" + std::to_string(id); }

Poco::Logger& log() { return Poco::Logger::get("keyholder.core"); }

SealedSecret to_sealed(const store::StoredSecret& s) { return SealedSecret{s.key_id, s.nonce, s.ciphertext}; }

store::StoredSecret to_stored(const SealedSecret& s, int64_t at, const std::string& by) {
    return store::StoredSecret{s.key_id, s.nonce, s.ciphertext, 0, at, by};
}

std::string joined(const std::vector<std::string>& parts) {
    std::string all;
    for (const auto& part : parts)
        all += (all.empty() ? "" : "; ") + part;
    return all;
}

} // namespace keyholder::core::detail
