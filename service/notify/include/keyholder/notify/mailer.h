// Mailers: how a rendered notification leaves the service. SmtpMailer talks to the
// configured server (STARTTLS required when configured, optional AUTH LOGIN); the
// PickupMailer writes one .eml file per message into a folder, atomically (temporary
// name, fsync, rename) — the embedded default for the demo and tests.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "keyholder/config/config.h"

namespace keyholder::notify {

struct Mail {
    std::string from;
    std::string to;
    std::string subject;
    std::string message_id; ///< "<...@...>", stable per outbox row
    std::string text;
    std::string html;
    int64_t date = 0;       ///< UTC seconds
    std::string attachment; ///< a file to attach (scheduled report exports), or empty
};

struct Delivery {
    enum class Result { sent, retry, permanent } result = Result::retry;
    std::string detail; ///< the server's answer or the local error
};

class Mailer {
public:
    virtual ~Mailer() = default;
    virtual Delivery deliver(const Mail& mail) = 0;
    /// finish_batch: the worker's pass is over: a mailer that keeps a connection open
    /// across messages closes it now (SMTP: QUIT).
    virtual void finish_batch() {}
    [[nodiscard]] virtual std::string describe() const = 0;
};

/// make_mailer: SMTP when [smtp] host is set, else the pickup folder.
std::unique_ptr<Mailer> make_mailer(const config::SmtpSection& settings);

/// mime_text: the message as RFC 5322 text (what the pickup file holds).
std::string mime_text(const Mail& mail);

} // namespace keyholder::notify
