// The states of the check-out state machine, as enums, and their text as stored in
// the database and shown by the API and the reports (the one place that spells them).
//
//   request:  pending -> approved -> active -> ended        (a start in the future: approved first)
//             pending -> denied | cancelled | lapsed;  approved -> cancelled
//   checkout: scheduled -> active -> ended
//   release and take-back of a check-out: none -> pending -> done, or failed (retried) -> done
#pragma once

#include <optional>
#include <string_view>

namespace keyholder::store {

enum class RequestState { pending, approved, active, denied, cancelled, lapsed, ended };
enum class CheckoutState { scheduled, active, ended };
/// Progress: of a check-out's release (at its start) or take-back (at its end).
enum class Progress { none, pending, done, failed };
/// EndReason: why a check-out ended.
enum class EndReason { checked_in, revoked, expired };

std::string_view to_text(RequestState state);
std::string_view to_text(CheckoutState state);
std::string_view to_text(Progress progress);
std::string_view to_text(EndReason reason);

/// parse_*: nullopt for a text that names no state (a filter typed by a person, a
/// row written by a newer keyholder).
std::optional<RequestState> parse_request_state(std::string_view text);
std::optional<CheckoutState> parse_checkout_state(std::string_view text);
std::optional<Progress> parse_progress(std::string_view text);
std::optional<EndReason> parse_end_reason(std::string_view text);

} // namespace keyholder::store
