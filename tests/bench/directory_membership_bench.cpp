// directory_membership_bench: "is bob (transitively) in Tier0 Operators?" against the
// Samba AD DC that scripts/bench starts (KEYHOLDER_BENCH_DC names its folder).
// Three figures from the same run, over the same LDAPS connection settings:
//   baseline   a bare ldap_search_ext_s of the question (in-chain rule 1.2.840.113556.1.4.1941)
//   uncached   Directory::is_member with caching off (group lookup + tokenGroups read)
//   cached     Directory::is_member with the TTL cache on (after the first answer)
#include <ldap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "keyholder/directory/directory.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace keyholder::directory;

const std::string kBob = "CN=Bob Operator,OU=People,OU=Keyholder,DC=keyholder,DC=test";
const std::string kTier0 = "CN=Tier0 Operators,OU=Groups,OU=Keyholder,DC=keyholder,DC=test";

struct Figure {
    double per_second;
    double p50_us;
    double p99_us;
};

template <typename F> Figure measure(int n, F&& once) {
    std::vector<double> micros;
    micros.reserve(static_cast<size_t>(n));
    auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        if (!once()) {
            std::fprintf(stderr, "wrong answer\n");
            std::exit(1);
        }
        micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(micros.begin(), micros.end());
    return {n / seconds, micros[micros.size() / 2], micros[micros.size() * 99 / 100]};
}

} // namespace

int main(int argc, char** argv) {
    const char* dc_dir = std::getenv("KEYHOLDER_BENCH_DC");
    if (dc_dir == nullptr) {
        std::fprintf(stderr, "directory_membership_bench: run it through scripts/bench (it starts the DC)\n");
        return 2;
    }
    const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
    const std::string ca = std::string(dc_dir) + "/tls/ca.crt";
    const std::string uri = "ldaps://127.0.0.2";
    const std::string password = "Svc-Keyh0lder-Pa55!";

    // Baseline: bare libldap, one bound connection, one search per question.
    LDAP* ld = nullptr;
    ldap_initialize(&ld, uri.c_str());
    int version = LDAP_VERSION3;
    int demand = LDAP_OPT_X_TLS_DEMAND;
    int zero = 0;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, ca.c_str());
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
    if (ldap_sasl_bind_s(ld, "svc-keyholder@keyholder.test", LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr) !=
        LDAP_SUCCESS) {
        std::fprintf(stderr, "baseline bind failed\n");
        return 1;
    }
    const std::string filter =
        "(&(objectClass=group)(distinguishedName=" + kTier0 + ")(member:1.2.840.113556.1.4.1941:=" + kBob + "))";
    char no_attrs[] = "1.1";
    char* attrs[] = {no_attrs, nullptr};
    auto bare = measure(n, [&] {
        LDAPMessage* result = nullptr;
        int rc = ldap_search_ext_s(ld, "DC=keyholder,DC=test", LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0, nullptr,
                                   nullptr, nullptr, 2, &result);
        bool yes = rc == LDAP_SUCCESS && ldap_count_entries(ld, result) == 1;
        ldap_msgfree(result);
        return yes;
    });
    ldap_unbind_ext_s(ld, nullptr, nullptr);

    DirectorySettings settings;
    settings.connection.uris = {uri};
    settings.connection.ca_file = ca;
    settings.base_dn = "DC=keyholder,DC=test";
    settings.bind_dn = "svc-keyholder@keyholder.test";
    settings.bind_password = password;
    settings.flavour = Flavour::active_directory;
    settings.pool_size = 1;

    auto uncached_settings = settings;
    uncached_settings.cache_size = 0;
    Directory uncached(uncached_settings);
    auto bob = uncached.find_user("bob");
    if (!bob) {
        std::fprintf(stderr, "find_user: %s\n", bob.error().to_string().c_str());
        return 1;
    }
    auto not_cached = measure(n, [&] { return uncached.is_member(*bob, kTier0).value_or(false); });

    Directory cached(settings);
    auto cached_figure = measure(n * 50, [&] { return cached.is_member(*bob, kTier0).value_or(false); });

    std::printf("directory_membership: is bob in Tier0 Operators (nested twice)? Samba AD DC over LDAPS\n");
    std::printf("  baseline  bare ldap_search_ext_s (in-chain rule) : %9.0f /s  p50 %7.1f us  p99 %7.1f us\n",
                bare.per_second, bare.p50_us, bare.p99_us);
    std::printf("  keyholder is_member, cache off                   : %9.0f /s  p50 %7.1f us  p99 %7.1f us"
                "  (ratio %.2f)\n",
                not_cached.per_second, not_cached.p50_us, not_cached.p99_us, not_cached.per_second / bare.per_second);
    std::printf("  keyholder is_member, cached                      : %9.0f /s  p50 %7.1f us  p99 %7.1f us"
                "  (ratio %.1f)\n",
                cached_figure.per_second, cached_figure.p50_us, cached_figure.p99_us,
                cached_figure.per_second / bare.per_second);
    return 0;
}
