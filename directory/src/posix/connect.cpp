// One libldap connection with keyholder's defaults (see connect.h).
#include "connect.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace keyholder::directory::detail {
namespace {

timeval to_timeval(std::chrono::seconds s) { return timeval{static_cast<time_t>(s.count()), 0}; }

// libldap bounds connect() by LDAP_OPT_NETWORK_TIMEOUT and waits for results with
// LDAP_OPT_TIMEOUT, but Debian's libldap 2.5 runs the TLS handshake (ldaps://,
// StartTLS) with blocking reads and retries them: a DC that accepts the connection
// and then says nothing would hold the caller forever. The watchdog bounds connection
// set-up: armed right after the TCP connect (connect callback), it shuts the socket
// down if set-up is not finished by network + operation timeout, so the blocked read
// ends. It is disarmed when set-up completes and before libldap closes the socket, so
// it never touches a descriptor that was closed and reused.
class SetupWatchdog {
public:
    static SetupWatchdog& instance() {
        static auto* watchdog = new SetupWatchdog; // lives for the process; never joined at exit
        return *watchdog;
    }
    void arm(int fd, std::chrono::steady_clock::time_point deadline) {
        std::lock_guard lock(mutex_);
        deadlines_[fd] = deadline;
        if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
        changed_.notify_one();
    }
    void disarm(int fd) {
        std::lock_guard lock(mutex_);
        deadlines_.erase(fd);
    }

private:
    void loop() {
        std::unique_lock lock(mutex_);
        while (true) {
            if (deadlines_.empty()) {
                changed_.wait(lock);
                continue;
            }
            auto next = std::min_element(deadlines_.begin(), deadlines_.end(),
                                         [](auto& a, auto& b) { return a.second < b.second; });
            if (std::chrono::steady_clock::now() >= next->second) {
                ::shutdown(next->first, SHUT_RDWR);
                deadlines_.erase(next);
                continue;
            }
            // A copy: the entry may be erased (disarmed) while this thread waits.
            const auto deadline = next->second;
            changed_.wait_until(lock, deadline);
        }
    }
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<int, std::chrono::steady_clock::time_point> deadlines_;
    std::thread thread_;
};

std::chrono::seconds option_seconds(LDAP* ld, int option) {
    timeval* value = nullptr;
    if (ldap_get_option(ld, option, &value) != LDAP_OPT_SUCCESS || value == nullptr) return std::chrono::seconds(5);
    auto seconds = std::chrono::seconds(value->tv_sec);
    ldap_memfree(value);
    return seconds;
}

int on_connect(LDAP* ld, Sockbuf* sb, LDAPURLDesc*, struct sockaddr*, struct ldap_conncb*) {
    ber_socket_t fd = -1;
    if (sb == nullptr || ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0) return 0;
    auto budget = option_seconds(ld, LDAP_OPT_NETWORK_TIMEOUT) + option_seconds(ld, LDAP_OPT_TIMEOUT);
    SetupWatchdog::instance().arm(fd, std::chrono::steady_clock::now() + budget);
    return 0;
}

void on_close(LDAP*, Sockbuf* sb, struct ldap_conncb*) {
    ber_socket_t fd = -1;
    if (sb != nullptr && ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1 && fd >= 0)
        SetupWatchdog::instance().disarm(fd);
}

ldap_conncb kSocketTimeouts{on_connect, on_close, nullptr};

} // namespace

std::expected<LdapHandle, DirectoryError> connect(const std::string& uri, const ConnectionSettings& settings) {
    LDAP* raw = nullptr;
    int rc = ldap_initialize(&raw, uri.c_str());
    LdapHandle ld(raw);
    if (rc != LDAP_SUCCESS) return std::unexpected(make_error(nullptr, rc, "bad LDAP URI", uri));

    auto fail = [&](int code, const std::string& doing) {
        DirectoryError error = make_error(ld.get(), code, doing, uri);
        if (code == LDAP_CONNECT_ERROR) error.kind = DirectoryError::Kind::unavailable; // includes TLS failures
        return std::unexpected(error);
    };
    int version = LDAP_VERSION3;
    timeval network = to_timeval(settings.network_timeout);
    timeval operation = to_timeval(settings.operation_timeout);
    int require = settings.require_certificate ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    if ((rc = ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &network)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &operation)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &require)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_CONNECT_CB, &kSocketTimeouts)) != LDAP_OPT_SUCCESS)
        return fail(rc, "cannot set LDAP options");
    if (settings.ca_file) {
        if ((rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, settings.ca_file->c_str())) != LDAP_OPT_SUCCESS)
            return fail(rc, "cannot use CA file " + *settings.ca_file);
    }
    // Apply the TLS settings above to this handle only (not the process-wide context).
    int is_server = 0;
    if ((rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &is_server)) != LDAP_OPT_SUCCESS)
        return fail(rc, "cannot create the TLS context");
    if (settings.starttls && uri.rfind("ldaps://", 0) != 0) {
        if ((rc = ldap_start_tls_s(ld.get(), nullptr, nullptr)) != LDAP_SUCCESS) {
            DirectoryError error = make_error(ld.get(), rc, "StartTLS failed", uri);
            error.kind = DirectoryError::Kind::unavailable;
            return std::unexpected(error);
        }
    }
    return ld;
}

// The connection is established and bound (or about to be closed): from now on
// libldap's own timeouts bound every operation, so the watchdog lets go of it.
void setup_complete(LDAP* ld) {
    int fd = -1;
    if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS && fd >= 0) SetupWatchdog::instance().disarm(fd);
}

} // namespace keyholder::directory::detail
