// OutboxWorker: sends the outbox. Each due row is rendered from its template (the
// request as it is now, plus the row's payload), delivered, and marked sent only
// after the mailer succeeded; a failure is retried with backoff (30 s doubling to
// 1 h) for as long as it takes, a permanent refusal (SMTP 5xx) is marked failed and
// logged. Approval mails carry links signed for their recipient (core::LinkSigner),
// expiring with the request. No mail ever carries a secret: templates only see
// request fields. Runs on its own store connection; driven like the scheduler.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "keyholder/config/config.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/links.h"
#include "keyholder/notify/mailer.h"
#include "keyholder/notify/templates.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/outbox.h"

namespace keyholder::notify {

struct OutboxPass {
    int sent = 0;
    int retried = 0;
    int failed = 0;
    int incomplete = 0;              ///< mails rendered with a placeholder that had no value (logged)
    std::optional<int64_t> next_due; ///< UTC seconds
};

class OutboxWorker {
public:
    /// `on_result` (optional) hears "sent", "retry" or "failed" per delivery (metrics).
    OutboxWorker(const config::Config& config, store::Connection& store, Mailer& mailer, const Templates& templates,
                 const core::LinkSigner& links, const core::Clock& clock,
                 std::function<void(const std::string&)> on_result = {});
    /// run_due: claims the due rows, sends them, marks each as its answer comes.
    OutboxPass run_due();
    /// release_claims: drops claims a stopped process left (start-up of the only
    /// process of a SQLite store; on PostgreSQL other nodes' claims are live, and a
    /// dead node's expire).
    int64_t release_claims();

private:
    std::map<std::string, std::string> values_for(const store::OutboxRow& row);
    const config::Config& config_;
    store::Connection& store_;
    Mailer& mailer_;
    const Templates& templates_;
    const core::LinkSigner& links_;
    const core::Clock& clock_;
    std::function<void(const std::string&)> on_result_;
};

/// approval_link: the page URL of a signed approval link (public_url + /approve/TOKEN).
std::string approval_link(const std::string& public_url, const std::string& token);

} // namespace keyholder::notify
