// mail_bench: how fast the outbox worker sends, against a real SMTP server (the
// aiosmtpd sink of the tests, on a free loopback port), next to a bare Poco
// SMTPClientSession sending the same number of messages over one session in the same
// run. The worker renders each mail from its template, sends it and marks its row
// sent with a durable commit, reusing its SMTP sessions across a pass; measured with
// one session and with four side by side.
// Target: >= 300 mails/s and >= 0.5x the bare loop.
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "keyholder/config/config.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/links.h"
#include "keyholder/notify/mailer.h"
#include "keyholder/notify/outbox_worker.h"
#include "keyholder/notify/templates.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMails = 2000;

// Sink: tests/support/smtp-sink on 127.0.0.1:port, stopped by PID.
class Sink {
public:
    Sink(const std::filesystem::path& source, int port, const std::filesystem::path& folder) {
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string program = (source / "tests/support/smtp-sink").string();
            const std::string p = std::to_string(port);
            ::execl(program.c_str(), program.c_str(), "127.0.0.1", p.c_str(), folder.c_str(), nullptr);
            ::_exit(127);
        }
        // Ready once it accepts connections (at most 10 s).
        for (int i = 0; i < 200; ++i) {
            try {
                Poco::Net::StreamSocket probe(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
                return;
            } catch (const Poco::Exception&) {
                ::usleep(50000);
            }
        }
        std::fprintf(stderr, "the SMTP sink did not start\n");
    }
    ~Sink() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
    }

private:
    pid_t pid_ = -1;
};

int free_port() {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    return probe.address().port();
}

double bare_loop(int port) {
    Poco::Net::MailMessage message;
    message.setSender("keyholder@bench.test");
    message.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, "bob@bench.test"));
    message.setSubject("bench");
    message.setContent("Hello Bob,\r\n\r\nyour request lapsed.\r\n");
    const auto start = Clock::now();
    Poco::Net::SMTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.login();
    for (int i = 0; i < kMails; ++i)
        session.sendMessage(message);
    session.close();
    return kMails / std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

int main() {
    using namespace keyholder;
    const std::filesystem::path source = KEYHOLDER_SOURCE_DIR;
    char pattern[] = "/tmp/keyholder-mail-bench-XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(pattern);
    const int port = free_port();
    Sink sink(source, port, dir / "inbox");
    std::filesystem::create_directories(dir / "data");
    std::ofstream(dir / "data/ldap.password") << "pw";
    std::filesystem::permissions(dir / "data/ldap.password",
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::ofstream(dir / "k.ini") << "[service]\ndata_dir = data\nadmin_groups = A\n"
                                    "[ldap]\nuris = ldaps://dc1\nbase_dn = dc=x\nbind_dn = cn=s\n"
                                    "bind_password_file = ldap.password\n"
                                    "[smtp]\nhost = 127.0.0.1\nport = "
                                 << port
                                 << "\nstarttls = false\nfrom = keyholder@bench.test\n"
                                    "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                    "[entry.e]\npolicy = p\nrelease = group\ngroup = G\n";
    auto loaded = config::load_config(dir / "k.ini");
    if (!loaded) {
        std::fprintf(stderr, "config: %s\n", loaded.error().front().to_string().c_str());
        return 1;
    }
    config::Config config = std::move(*loaded);
    core::SystemClock clock;
    auto opened = store::open_store(dir / "k.db");
    const auto templates = notify::Templates::builtin();
    core::LinkSigner links(std::vector<unsigned char>(32, 1));
    const double bare = bare_loop(port);
    // worker_rate: kMails queued, then sent by the outbox worker over `sessions` sessions.
    auto worker_rate = [&](int sessions, int& sent) {
        {
            store::Transaction tx(opened.connection);
            for (int i = 0; i < kMails; ++i)
                store::enqueue_notification(
                    tx,
                    {clock.now(), "request_lapsed", "bob@bench.test", std::nullopt, R"({"recipient_display":"Bob"})",
                     "<lapsed." + std::to_string(sessions) + "." + std::to_string(i) + ".bench@keyholder>"});
            tx.commit();
        }
        config.smtp.sessions = sessions;
        auto mailer = notify::make_mailer(config.smtp);
        notify::OutboxWorker worker(config, opened.connection, *mailer, templates, links, clock);
        sent = 0;
        const auto start = Clock::now();
        while (sent < kMails) {
            const auto pass = worker.run_due();
            if (pass.sent == 0) break;
            sent += pass.sent;
        }
        return sent / std::chrono::duration<double>(Clock::now() - start).count();
    };
    int sent_one = 0, sent_four = 0;
    const double one = worker_rate(1, sent_one);
    const double four = worker_rate(4, sent_four);
    std::printf("bare Poco SMTPClientSession loop over one session: %.0f mails/s\n"
                "outbox worker, 1 session:  %d mails in %.0f mails/s, ratio %.2fx\n"
                "outbox worker, 4 sessions: %d mails in %.0f mails/s, ratio %.2fx\n"
                "(render, send, durable commit per mail; target >= 0.5x and >= 300 mails/s)\n",
                bare, sent_one, one, one / bare, sent_four, four, four / bare);
    const int sent = sent_one + sent_four;
    std::filesystem::remove_all(dir);
    return sent == 2 * kMails ? 0 : 1;
}
