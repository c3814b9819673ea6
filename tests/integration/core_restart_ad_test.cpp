// Release and take-back against the real Samba AD DC, across a restart of keyholderd:
// check-outs are released in AD, keyholderd is started after their windows have
// ended, and before /readyz answers 200 they are ended in the store and taken back
// in AD (group membership removed, account disabled, its password rotated).
#include <gtest/gtest.h>

#include <regex>

#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/core/vault.h"
#include "keyholder/directory/directory.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/secrets.h"
#include "keyholder/store/store.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/samba_dc.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::SambaDc;
using keyholder::testing::TempDir;
using namespace std::chrono_literals;

std::filesystem::path write_config(const TempDir& dir) {
    SambaDc& dc = SambaDc::shared();
    dir.write("data/ldap.password", SambaDc::kServicePassword);
    return dir.write("keyholder.ini",
                     "[service]\ndata_dir = data\nadmin_groups = Keyholder Admins\n"
                     "[http]\nlisten = 127.0.0.1:0\n"
                     "[ldap]\nuris = " +
                         dc.ldaps_uri() + "\nbase_dn = " + SambaDc::kBaseDn + "\nca_file = " + dc.ca_file().string() +
                         "\nbind_dn = " + SambaDc::kServiceUpn +
                         "\nbind_password_file = ldap.password\nnetbios_domain = KEYHOLDER\n"
                         "[policy.tier0]\nrequester_groups = Tier0 Operators\n"
                         "stage1_approvers = Team Leads\nmax_duration = 4h\n"
                         "[entry.server-admins]\npolicy = tier0\nrelease = group\ngroup = Server Admins\n"
                         "[entry.breakglass]\npolicy = tier0\nrelease = enable\naccount = da-breakglass\n"
                         "rotate_password = true\n"
                         "[entry.vaulted]\npolicy = tier0\nrelease = password\naccount = da-vault\n");
}

TEST(CoreRestartWithActiveDirectory, OverdueCheckoutsAreEndedAndTakenBackBeforeReadiness) {
    SambaDc& dc = SambaDc::shared();
    TempDir dir;
    auto file = write_config(dir);
    auto config = config::load_config(file);
    ASSERT_TRUE(config) << config.error().front().to_string();
    directory::Directory directory(core::directory_settings(config->ldap));
    core::DirectoryAuthority authority(directory);
    const int64_t now = core::SystemClock().now();
    core::ManualClock past(now - 3 * 3600); // the check-outs happened three hours ago
    int64_t group_checkout = 0;
    int64_t enable_checkout = 0;
    int64_t password_checkout = 0;
    {
        auto store = store::open_store(config->store.file);
        core::record_service_start(store.connection, *config, past, "test");
    }
    // The administrator stores the privileged account's password (piped, never an argument).
    auto set =
        keyholder::testing::run("/bin/sh", {"-c", "printf %s 'Initial-Vau1ted!' | " + std::string(KEYHOLDER_CLI_PATH) +
                                                      " secret set vaulted --config " + file.string()});
    ASSERT_EQ(set.status, 0) << set.out << set.err;
    EXPECT_NE(set.out.find("secret of vaulted stored (version 1)"), std::string::npos) << set.out;
    auto vault = core::SecretVault::open(config->service.master_key_file);
    ASSERT_TRUE(vault) << vault.error();
    {
        auto store = store::open_store(config->store.file);
        core::CheckoutService service(*config, store.connection, authority, past, &*vault);
        auto first = service.request({"bob", "server-admins", "patch night", std::nullopt, 1h, std::nullopt});
        ASSERT_TRUE(first) << first.error().message;
        ASSERT_EQ(service.decide(*first, "alice", core::Decision::approve), "active");
        auto second = service.request({"bob", "breakglass", "outage", std::nullopt, 1h, std::nullopt});
        ASSERT_TRUE(second) << second.error().message;
        auto self = service.decide(*second, "bob", core::Decision::approve);
        ASSERT_FALSE(self);
        ASSERT_EQ(service.decide(*second, "carol", core::Decision::approve), "active");
        group_checkout = store::checkout_of_request(store.connection, *first)->id;
        enable_checkout = store::checkout_of_request(store.connection, *second)->id;
        auto third = service.request({"bob", "vaulted", "db work", std::nullopt, 1h, std::nullopt});
        ASSERT_TRUE(third) << third.error().message;
        ASSERT_EQ(service.decide(*third, "alice", core::Decision::approve), "active");
        password_checkout = store::checkout_of_request(store.connection, *third)->id;
        EXPECT_EQ(service.credential(password_checkout, "bob"), "Initial-Vau1ted!");
    }
    // Released in AD.
    auto bob = directory.find_user("bob");
    directory.invalidate_all();
    EXPECT_TRUE(*directory.is_member(*bob, "Server Admins"));
    EXPECT_TRUE(directory.find_user("da-breakglass")->enabled);

    // keyholderd starts two hours after both windows ended.
    keyholder::testing::ChildProcess daemon(KEYHOLDERD_PATH, {"--config", file.string()}, dir.path());
    std::string log = daemon.wait_for_output("listening on ", 20s);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(log, match, std::regex("listening on (http://[0-9.]+:[0-9]+)"))) << daemon.err();
    int status = 0;
    for (int i = 0; i < 100 && status != 200; ++i) {
        status = keyholder::testing::http_get(match[1].str() + "/readyz").status;
        if (status != 200) std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(status, 200) << daemon.err();
    // Ready means: already ended and taken back.
    {
        auto store = store::Connection::open(config->store.file);
        for (int64_t id : {group_checkout, enable_checkout, password_checkout}) {
            auto checkout = store::find_checkout(store, id);
            EXPECT_EQ(store::to_text(checkout->state), "ended");
            EXPECT_EQ(checkout->end_reason, store::parse_end_reason("expired"));
            EXPECT_EQ(store::to_text(checkout->takeback_state), "done") << checkout->takeback_error.value_or("");
        }
        EXPECT_TRUE(store::verify_audit_chain(store).ok());
    }
    directory.invalidate_all();
    EXPECT_FALSE(*directory.is_member(*bob, "Server Admins")) << "membership taken back";
    auto account = directory.find_user("da-breakglass");
    EXPECT_FALSE(account->enabled) << "account disabled again";
    // The password was rotated: the one it had before no longer binds (enable it
    // briefly to tell "wrong password" from "disabled").
    ASSERT_TRUE(directory.set_enabled(*account, true));
    EXPECT_FALSE(directory.verify_password(*account, "Initial-Br3akglass!"));
    ASSERT_TRUE(directory.set_enabled(*account, false));
    // The password entry was rotated to a new secret, stored sealed: the old password
    // no longer binds, the stored one does.
    auto vaulted = directory.find_user("da-vault");
    EXPECT_FALSE(directory.verify_password(*vaulted, "Initial-Vau1ted!"));
    {
        auto store = store::Connection::open(config->store.file);
        auto entry_id = store::entry_id_by_name(store, "vaulted");
        auto secret = store::find_secret(store, *entry_id);
        ASSERT_TRUE(secret);
        EXPECT_EQ(secret->version, 2);
        auto plain = vault->unseal({secret->key_id, secret->nonce, secret->ciphertext}, "vaulted");
        ASSERT_TRUE(plain) << plain.error();
        EXPECT_TRUE(directory.verify_password(*vaulted, *plain)) << "the rotated password binds";
    }
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_for(2s), 0);
    (void)dc;
}

} // namespace
