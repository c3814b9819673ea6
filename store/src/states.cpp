// State names (see states.h).
#include "keyholder/store/states.h"

#include <array>
#include <utility>

namespace keyholder::store {
namespace {

template <typename E, size_t N> using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<RequestState, 7> kRequestStates{{{RequestState::pending, "pending"},
                                                 {RequestState::approved, "approved"},
                                                 {RequestState::active, "active"},
                                                 {RequestState::denied, "denied"},
                                                 {RequestState::cancelled, "cancelled"},
                                                 {RequestState::lapsed, "lapsed"},
                                                 {RequestState::ended, "ended"}}};
constexpr Names<CheckoutState, 3> kCheckoutStates{
    {{CheckoutState::scheduled, "scheduled"}, {CheckoutState::active, "active"}, {CheckoutState::ended, "ended"}}};
constexpr Names<Progress, 4> kProgress{
    {{Progress::none, "none"}, {Progress::pending, "pending"}, {Progress::done, "done"}, {Progress::failed, "failed"}}};
constexpr Names<EndReason, 3> kEndReasons{
    {{EndReason::checked_in, "checked_in"}, {EndReason::revoked, "revoked"}, {EndReason::expired, "expired"}}};

template <typename E, size_t N> std::string_view name_of(const Names<E, N>& names, E value) {
    for (const auto& [e, text] : names)
        if (e == value) return text;
    return "?";
}

template <typename E, size_t N> std::optional<E> parse(const Names<E, N>& names, std::string_view text) {
    for (const auto& [e, name] : names)
        if (name == text) return e;
    return std::nullopt;
}

} // namespace

std::string_view to_text(RequestState state) { return name_of(kRequestStates, state); }
std::string_view to_text(CheckoutState state) { return name_of(kCheckoutStates, state); }
std::string_view to_text(Progress progress) { return name_of(kProgress, progress); }
std::string_view to_text(EndReason reason) { return name_of(kEndReasons, reason); }

std::optional<RequestState> parse_request_state(std::string_view text) { return parse(kRequestStates, text); }
std::optional<CheckoutState> parse_checkout_state(std::string_view text) { return parse(kCheckoutStates, text); }
std::optional<Progress> parse_progress(std::string_view text) { return parse(kProgress, text); }
std::optional<EndReason> parse_end_reason(std::string_view text) { return parse(kEndReasons, text); }

} // namespace keyholder::store
