// Mailers: how a rendered notification leaves the service. SmtpMailer talks to the
// configured server (STARTTLS required when configured, optional AUTH LOGIN), over
// [smtp] sessions connections in parallel; the PickupMailer writes one .eml file per
// message into a folder, atomically (temporary name, fsync, rename) — the embedded
// default for the demo and tests.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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
    /// deliver_all: every mail, calling `done(index, delivery)` on the caller's thread as
    /// each one is answered (so its row is marked right after), in any order. The
    /// default delivers one after another; a mailer with several sessions sends in
    /// parallel. An exception from `done` stops the sending of the mails not yet begun.
    virtual void deliver_all(const std::vector<Mail>& mails, const std::function<void(size_t, const Delivery&)>& done);
    /// finish_batch: the worker's pass is over: a mailer that keeps a connection open
    /// across messages closes it now (SMTP: QUIT).
    virtual void finish_batch() {}
    [[nodiscard]] virtual std::string describe() const = 0;
};

/// make_mailer: SMTP when [smtp] host is set (with [smtp] sessions connections), else
/// the pickup folder.
std::unique_ptr<Mailer> make_mailer(const config::SmtpSection& settings);

/// mime_text: the message as RFC 5322 text (what the pickup file holds).
std::string mime_text(const Mail& mail);

} // namespace keyholder::notify
