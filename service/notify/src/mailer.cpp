#include "keyholder/notify/mailer.h"

#include "keyholder/platform/files.h"
#include "parallel_mailer.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/FilePartSource.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/StringPartSource.h>
#include <Poco/Timestamp.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>

namespace keyholder::notify {
namespace {

bool ascii(const std::string& text) {
    for (unsigned char c : text)
        if (c >= 0x80) return false;
    return true;
}

// crlf: text with every line ending CRLF. RFC 5321 forbids bare LF in mail, strict
// servers (Postfix, Exchange) refuse it, and Poco's quoted-printable encoder passes
// line ends through as they are.
std::string crlf(const std::string& text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
            out += "\r\n"; // a lone CR ends a line too
            continue;
        }
        out += text[i];
    }
    return out;
}

void compose(const Mail& mail, Poco::Net::MailMessage& message) {
    message.setSender(mail.from);
    message.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, mail.to));
    message.setSubject(ascii(mail.subject) ? mail.subject : Poco::Net::MailMessage::encodeWord(mail.subject, "UTF-8"));
    message.setDate(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(mail.date)));
    message.set("Message-ID", mail.message_id);
    message.set("Auto-Submitted", "auto-generated"); // RFC 3834: no auto-replies to us
    if (!mail.attachment.empty()) {
        // Text, then the file (a CSV export), as multipart/mixed.
        message.addPart("text", new Poco::Net::StringPartSource(crlf(mail.text), "text/plain; charset=UTF-8"),
                        Poco::Net::MailMessage::CONTENT_INLINE, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
        message.addAttachment(std::filesystem::path(mail.attachment).filename().string(),
                              new Poco::Net::FilePartSource(mail.attachment, "text/csv; charset=UTF-8"));
        return;
    }
    if (mail.html.empty()) {
        message.setContentType("text/plain; charset=UTF-8");
        message.setContent(crlf(mail.text), Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
        return;
    }
    message.setContentType("multipart/alternative");
    message.addPart("text", new Poco::Net::StringPartSource(crlf(mail.text), "text/plain; charset=UTF-8"),
                    Poco::Net::MailMessage::CONTENT_INLINE, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
    message.addPart("html", new Poco::Net::StringPartSource(crlf(mail.html), "text/html; charset=UTF-8"),
                    Poco::Net::MailMessage::CONTENT_INLINE, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
}

class PickupMailer final : public Mailer {
public:
    explicit PickupMailer(std::filesystem::path dir) : dir_(std::move(dir)) {}

    Delivery deliver(const Mail& mail) override {
        std::error_code ec;
        std::filesystem::create_directories(dir_, ec);
        // The file name comes from the Message-ID, so a repeated delivery replaces, never duplicates.
        std::string name;
        for (char c : mail.message_id)
            if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == '@') name += c;
        const auto final_path = dir_ / (name + ".eml");
        try {
            // On disk (the folder's rename too) before the row is marked sent.
            platform::write_file_atomically(final_path, mime_text(mail));
        } catch (const std::exception& e) {
            return {Delivery::Result::retry, e.what()};
        }
        return {Delivery::Result::sent, final_path.string()};
    }
    [[nodiscard]] std::string describe() const override { return "pickup folder " + dir_.string(); }

private:
    std::filesystem::path dir_;
};

class SmtpMailer final : public Mailer {
public:
    explicit SmtpMailer(const config::SmtpSection& settings) : settings_(settings) {}
    ~SmtpMailer() override { finish_batch(); }

    // One session carries up to kMessagesPerSession messages of a pass (one connection,
    // TLS handshake and login for many mails, not one each); it is dropped after any
    // refusal, since its state is then unknown.
    Delivery deliver(const Mail& mail) override {
        Poco::Net::MailMessage message;
        compose(mail, message);
        for (int attempt = 0;; ++attempt) {
            const bool reused = session_ != nullptr;
            // Which step failed decides whether a 5xx is final: the server refusing the
            // envelope or the data is; refusing the login (a password being rotated) or
            // the connection is worth another try.
            Step step = reused ? Step::envelope : Step::connect;
            try {
                if (!session_) {
                    if (auto refused = open(step)) return *refused;
                }
                step = Step::envelope;
                session_->sendMessage(message);
                if (++sent_in_session_ >= kMessagesPerSession) finish_batch();
                return {Delivery::Result::sent, "accepted by " + settings_.host};
            } catch (const Poco::Net::SMTPException& e) {
                drop();
                const int code = e.code();
                const bool final = step == Step::envelope && code >= 500 && code < 600;
                // A reused session the server gave up on (421, a timeout) gets one more try on a fresh one.
                if (!final && reused && attempt == 0) continue;
                return {final ? Delivery::Result::permanent : Delivery::Result::retry, e.displayText()};
            } catch (const Poco::Exception& e) {
                drop();
                if (reused && attempt == 0) continue;
                return {Delivery::Result::retry, e.displayText()};
            }
        }
    }

    void finish_batch() override {
        if (!session_) return;
        try {
            session_->close(); // QUIT
        } catch (const Poco::Exception&) {}
        session_.reset();
        sent_in_session_ = 0;
    }

    [[nodiscard]] std::string describe() const override {
        return "SMTP " + settings_.host + ":" + std::to_string(settings_.port) +
               (settings_.starttls ? " (STARTTLS)" : "");
    }

private:
    enum class Step { connect, tls, login, envelope };
    static constexpr int kMessagesPerSession = 100; ///< then a fresh session (servers cap messages per session)

    // open: a connected, greeted (and, as configured, encrypted and logged-in) session,
    // or the refusal to report. Throws Poco exceptions like the session does; `step`
    // says how far it got.
    std::optional<Delivery> open(Step& step) {
        auto session = std::make_unique<Poco::Net::SecureSMTPClientSession>(settings_.host, settings_.port);
        session->setTimeout(Poco::Timespan(30, 0));
        session->login(); // EHLO
        if (settings_.starttls) {
            step = Step::tls;
            Poco::Net::Context::Ptr context = new Poco::Net::Context(
                Poco::Net::Context::TLS_CLIENT_USE, "", "", settings_.ca_file ? settings_.ca_file->string() : "",
                Poco::Net::Context::VERIFY_RELAXED, 9, !settings_.ca_file, "HIGH:!aNULL");
            context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
            if (!session->startTLS(context))
                return Delivery{Delivery::Result::retry,
                                settings_.host + " does not offer STARTTLS (required by [smtp] starttls)"};
        }
        if (!settings_.user.empty()) {
            step = Step::login;
            session->login(settings_.auth == "plain" ? Poco::Net::SMTPClientSession::AUTH_PLAIN
                                                     : Poco::Net::SMTPClientSession::AUTH_LOGIN,
                           settings_.user, settings_.password.reveal());
        }
        session_ = std::move(session);
        sent_in_session_ = 0;
        return std::nullopt;
    }

    void drop() noexcept {
        session_.reset(); // the socket closes without QUIT: the server discards any open transaction
        sent_in_session_ = 0;
    }

    config::SmtpSection settings_;
    std::unique_ptr<Poco::Net::SecureSMTPClientSession> session_;
    int sent_in_session_ = 0;
};

} // namespace

std::string mime_text(const Mail& mail) {
    Poco::Net::MailMessage message;
    compose(mail, message);
    std::ostringstream out;
    message.write(out);
    return out.str();
}

void Mailer::deliver_all(const std::vector<Mail>& mails, const std::function<void(size_t, const Delivery&)>& done) {
    for (size_t i = 0; i < mails.size(); ++i)
        done(i, deliver(mails[i]));
}

std::unique_ptr<Mailer> make_mailer(const config::SmtpSection& settings) {
    if (!settings.uses_server()) return std::make_unique<PickupMailer>(settings.pickup_dir);
    if (settings.sessions <= 1) return std::make_unique<SmtpMailer>(settings);
    std::vector<std::unique_ptr<Mailer>> lanes;
    for (int i = 0; i < settings.sessions; ++i)
        lanes.push_back(std::make_unique<SmtpMailer>(settings));
    return std::make_unique<detail::ParallelMailer>(std::move(lanes));
}

} // namespace keyholder::notify
