// What the parts of CheckoutService share (requests, decisions, lifecycle,
// take-backs, the scheduler pass, notices): errors, audit and notice helpers, the
// approver lists and the named limits. Private to the core module.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/Logger.h>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keyholder/core/checkout_service.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/secrets.h"
#include "keyholder/store/states.h"
#include "keyholder/text/text.h"

namespace keyholder::core::detail {

using Kind = CoreError::Kind;
using store::CheckoutState;
using store::EndReason;
using store::Progress;
using store::RequestState;
using namespace std::chrono_literals;

/// Limits and periods of the rules, named once.
inline constexpr size_t kMaxReasonBytes = 2000;   ///< reason and comment text
inline constexpr int64_t kStartSlackSeconds = 60; ///< a start this far in the past still counts as now
inline constexpr auto kReleaseRetryFirst = 15s;   ///< a failed release is retried after this, doubling ...
inline constexpr auto kReleaseRetryMax = 10min;   ///< ... up to this, while the window lasts
inline constexpr auto kTakebackRetryFirst = 30s;  ///< a failed take-back is retried after this, doubling ...
inline constexpr auto kTakebackRetryMax = 1h;     ///< ... up to this, until it succeeds
inline constexpr auto kTakebackLease = 5min;      ///< a claimed take-back may run this long before others retake it
inline constexpr int kEndsPerTransaction = 500;   ///< check-outs ended per transaction (one fsync)
inline constexpr int kTakebacksPerPass = 200;     ///< take-backs per scheduler pass (the next ends wait for them)
inline constexpr int kClaimsPerTransaction = 16;  ///< take-backs claimed at once (their leases must outlast them)
inline constexpr int kEndBatchesPerPass = 1000;   ///< bound of the end loop of one pass

CoreError error(Kind kind, std::string code, std::string message);
/// field_text: `value` under the text rules (keyholder/text/text.h), as it is kept
/// (multi-line: CRLF made LF), or the refusal (invalid: `<field>_too_long`,
/// control_characters, line_break, invalid_utf8).
Outcome<std::string> field_text(const std::string& field, std::string_view value, text::Lines lines,
                                size_t max_characters);
/// from_directory: not_found -> forbidden (unknown user); anything else -> unavailable.
CoreError from_directory(const directory::DirectoryError& e, const std::string& who);

using Fields = std::initializer_list<std::pair<const char*, Poco::Dynamic::Var>>;
/// json: a JSON object of the fields, in order (audit details).
std::string json(Fields fields);
void audit(store::Transaction& tx, int64_t at, const std::string& actor, const std::string& action,
           const std::string& subject, const std::string& details);
std::string subject(const char* kind, int64_t id); ///< "request:12", "checkout:7"

/// Notice: a notification built before the write lock is taken (the payload, the
/// recipient whom approval links are bound to, and the unique part of the
/// Message-ID), so that the transaction only inserts it. The Message-ID is fixed at
/// insert, so a re-send after a crash is the same message.
struct Notice {
    std::string kind;
    std::string to_mail;
    std::string payload;
    std::string tag;
};
/// prepare_notice: nothing when the directory has no mail address for `to`.
std::optional<Notice> prepare_notice(const std::string& kind, const Principal& to, Fields fields);
void enqueue(store::Transaction& tx, int64_t now, const std::optional<Notice>& notice, int64_t request_id);

Poco::Logger& log();

/// stage_approvers: who may approve `stage` (1-based) of a request by `requester`:
/// enabled members of the stage's groups, and the requester's manager when the stage
/// says so; never the requester. A list (whom to tell), so it may come from the cache:
/// each decision is checked live.
Outcome<std::vector<Principal>> stage_approvers(Authority& authority, const config::Policy& policy, int stage,
                                                const Principal& requester);

SealedSecret to_sealed(const store::StoredSecret& s);
store::StoredSecret to_stored(const SealedSecret& s, int64_t at, const std::string& by);

/// joined: "a; b; c".
std::string joined(const std::vector<std::string>& parts);

} // namespace keyholder::core::detail
