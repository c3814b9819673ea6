// keyholder.ini: the shipped files load, and a broken file is answered with every
// problem, each naming file, section and key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "keyholder/config/config.h"
#include "keyholder/platform/files.h"
#include "keyholder/platform/process.h"
#include "keyholder/platform/system.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::config;
using keyholder::testing::read_file;
using keyholder::testing::TempDir;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
using keyholder::platform::kKerberosKeytabs;
using keyholder::platform::kPrivateFileHint;

// The sample of this system: the Linux package's, or the one the Windows installer writes.
const std::filesystem::path kSample =
    kKerberosKeytabs ? kSource / "config/keyholder.ini" : kSource / "packaging/windows/keyholder.ini";

// A data folder holding the secret files the sample keyholder.ini refers to.
void provide_sample_secrets(const TempDir& data) {
    data.write("tls/keyholder.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
    data.write("tls/keyholder.key", "-----BEGIN PRIVATE KEY-----\n");
    data.write("keyholder.keytab", "keytab");
    data.write("smtp.password", "s3cret\n");
    data.write("tls/smtp-ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644); // the Windows sample's
}

bool has_problem(const std::vector<Problem>& problems, const std::string& section, const std::string& key,
                 const std::string& fragment) {
    return std::any_of(problems.begin(), problems.end(), [&](const Problem& p) {
        return p.section == section && p.key == key && p.message.find(fragment) != std::string::npos;
    });
}

std::string dump(const std::vector<Problem>& problems) {
    std::string out;
    for (const auto& p : problems)
        out += p.to_string() + "\n";
    return out;
}

TEST(Config, ShippedSampleLoadsWithItsSecretFilesPresent) {
    TempDir data;
    provide_sample_secrets(data);
    auto config = load_config(kSample, {.data_dir = data.path()});
    ASSERT_TRUE(config) << dump(config.error());
    EXPECT_EQ(config->ldap.uris, (std::vector<std::string>{"ldaps://dc1.example.com", "ldaps://dc2.example.com"}));
    EXPECT_EQ(config->ldap.bind, LdapBindMethod::gssapi);
    EXPECT_EQ(config->ldap.keytab.has_value(), kKerberosKeytabs); // Windows: the service's own account
    EXPECT_EQ(config->smtp.password.reveal(), "s3cret");          // trailing newline removed
    const Policy& tier0 = config->policies.at("tier0");
    ASSERT_EQ(tier0.stages.size(), 2U);
    EXPECT_TRUE(tier0.stages[0].requester_manager);
    EXPECT_EQ(tier0.stages[1].approver_groups,
              (std::vector<std::string>{"CN=Security Officers,OU=Groups,DC=example,DC=com"}));
    EXPECT_EQ(tier0.max_duration, std::chrono::hours(4));
    EXPECT_EQ(tier0.max_extension, std::chrono::hours(2));
    EXPECT_EQ(config->service.auditor_groups.size(), 2U); // ';'-separated, DNs keep their commas
    const Entry& da = config->entries.at("domain-admin");
    EXPECT_TRUE(da.releases(ReleaseKind::password));
    EXPECT_TRUE(da.releases(ReleaseKind::enable));
    EXPECT_FALSE(da.releases(ReleaseKind::group));
    // The database and the keys sit in folders of their own (backups of one never hold the other).
    const std::filesystem::path state = kKerberosKeytabs ? "/var/lib/keyholder" : "C:\\ProgramData\\keyholder";
    EXPECT_EQ(config->store.file, state / "db" / "keyholder.db");
    EXPECT_EQ(config->service.master_key_file, state / "keys" / "master.key");
    EXPECT_EQ(config->report_schedules.at("weekly-requests").schedule, "0 6 * * mon");
    EXPECT_TRUE(config->auth.negotiate);
    EXPECT_EQ(config->auth.keytab, config->ldap.keytab); // defaults to the directory's
    EXPECT_EQ(config->auth.realms, (std::vector<std::string>{"EXAMPLE.COM"}));
    EXPECT_EQ(config->auth.failed_signon_window, std::chrono::minutes(5));
}

TEST(Config, AuthProblemsAreNamed) {
    TempDir dir;
    auto file = dir.write("k.ini", "[service]\ndata_dir = data\nadmin_groups = admins\n"
                                   "[ldap]\nuris = ldap://127.0.0.1:3890\nbase_dn = dc=x\nbind_dn = cn=x\n"
                                   "bind_password_env = PATH\ncache_ttl = 2h\n"
                                   "[auth]\nnegotiate = true\nbasic = false\nbasic_cache_ttl = 2h\n"
                                   "failed_signon_limit = 0\n"
                                   "[policy.p]\nrequester_groups = g\nstage1_approvers = a\n"
                                   "[entry.e]\npolicy = p\nrelease = group\ngroup = g\n");
    auto config = load_config(file);
    ASSERT_FALSE(config);
    // Windows: SSPI needs no keytab.
    EXPECT_EQ(has_problem(config.error(), "auth", "keytab", "needs the HTTP service keytab"), kKerberosKeytabs)
        << dump(config.error());
    EXPECT_TRUE(has_problem(config.error(), "auth", "basic_cache_ttl", "at most 1h")) << dump(config.error());
    EXPECT_TRUE(has_problem(config.error(), "ldap", "cache_ttl", "at most 1h")) << dump(config.error());
    EXPECT_TRUE(has_problem(config.error(), "auth", "failed_signon_limit", "outside")) << dump(config.error());
}

TEST(Config, ShippedSampleWithoutSecretsNamesEachMissingFile) {
    TempDir data;
    auto config = load_config(kSample, {.data_dir = data.path()});
    ASSERT_FALSE(config);
    const auto& problems = config.error();
    EXPECT_TRUE(has_problem(problems, "http", "tls_cert_file", "cannot read")) << dump(problems);
    EXPECT_TRUE(has_problem(problems, "http", "tls_key_file", "cannot read")) << dump(problems);
    EXPECT_TRUE(has_problem(problems, "smtp", "password_file", "cannot read")) << dump(problems);
    if (kKerberosKeytabs) {
        EXPECT_TRUE(has_problem(problems, "ldap", "keytab", "cannot read")) << dump(problems);
    } else {
        EXPECT_TRUE(has_problem(problems, "smtp", "ca_file", "cannot read")) << dump(problems);
    }
    EXPECT_EQ(problems.size(), 4U) << dump(problems);
}

TEST(Config, DemoConfigLoadsWithItsPasswordFromTheEnvironment) {
    TempDir data;
    keyholder::platform::set_environment("KEYHOLDER_DEMO_LDAP_PASSWORD", "demo");
    auto config = load_config(kSource / "config/demo.ini", {.data_dir = data.path()});
    keyholder::platform::unset_environment("KEYHOLDER_DEMO_LDAP_PASSWORD");
    ASSERT_TRUE(config) << dump(config.error());
    EXPECT_EQ(config->ldap.bind_password.reveal(), "demo");
    EXPECT_FALSE(config->http.tls());
    EXPECT_FALSE(config->smtp.uses_server());
    EXPECT_EQ(config->smtp.pickup_dir, data.path() / "mail-pickup");
}

constexpr const char* kMinimal = R"(
[service]
data_dir = data
admin_groups = CN=Admins,DC=example,DC=com
[ldap]
uris = ldaps://dc1.example.com
base_dn = DC=example,DC=com
bind_dn = CN=svc,DC=example,DC=com
bind_password_file = ldap.password
[policy.p]
requester_groups = Ops
stage1_approvers = Leads
[entry.e]
policy = p
release = group
group = Tier0
)";

TEST(Config, MinimalFileGetsDocumentedDefaults) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    auto file = dir.write("k.ini", kMinimal);
    auto config = load_config(file);
    ASSERT_TRUE(config) << dump(config.error());
    EXPECT_EQ(config->service.data_dir, dir.path() / "data"); // relative to the file's folder
    EXPECT_EQ(config->http.address, "127.0.0.1");
    EXPECT_EQ(config->http.port, 8443);
    EXPECT_EQ(config->ldap.network_timeout, std::chrono::seconds(3));
    EXPECT_EQ(config->store.durability, Durability::full);
    EXPECT_EQ(config->smtp.sessions, 4);
    const Policy& p = config->policies.at("p");
    EXPECT_EQ(p.stages.size(), 1U);
    EXPECT_EQ(p.stages[0].approvals, 1);
    EXPECT_TRUE(p.reason_required);
    EXPECT_TRUE(p.exclusive);
    EXPECT_EQ(config->service.master_key_file, dir.path() / "data/master.key");
    EXPECT_FALSE(config->store.retention) << "history is kept for good unless retention is set";
}

// Found by fuzzing: a *_file naming a folder threw out of the loader (std::ios_failure).
TEST(Config, ASecretFileThatIsAFolderIsAProblemNotACrash) {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "data/ldap.password");
    auto config = load_config(dir.write("k.ini", kMinimal));
    ASSERT_FALSE(config);
    EXPECT_NE(dump(config.error()).find("ldap.password is not a file"), std::string::npos) << dump(config.error());
}

TEST(Config, RetentionIsADurationOfAtLeastADay) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    auto kept = load_config(dir.write("a.ini", std::string(kMinimal) + "\n[store]\nretention = 400d\n"));
    ASSERT_TRUE(kept) << dump(kept.error());
    EXPECT_EQ(kept->store.retention, std::chrono::hours(24 * 400));
    for (const char* value : {"12h", "forever", "0"}) {
        auto refused =
            load_config(dir.write("b.ini", std::string(kMinimal) + "\n[store]\nretention = " + value + "\n"));
        ASSERT_FALSE(refused) << value;
        EXPECT_NE(dump(refused.error()).find("[store] retention"), std::string::npos) << dump(refused.error());
    }
}

TEST(Config, PostgresqlStoreTakesADsnAndAPasswordFromAFileNeverInline) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    dir.write("data/pg.password", "Pg-S3cret\n");
    auto good = load_config(dir.write("a.ini", std::string(kMinimal) +
                                                   "\n[store]\nbackend = postgresql\ndsn = host=db1,db2 dbname=k "
                                                   "user=keyholder\npassword_file = pg.password\n"));
    ASSERT_TRUE(good) << dump(good.error());
    EXPECT_EQ(good->store.backend, StoreBackend::postgresql);
    EXPECT_EQ(good->store.dsn, "host=db1,db2 dbname=k user=keyholder");
    EXPECT_EQ(good->store.password.reveal(), "Pg-S3cret");
    EXPECT_EQ(good->store.answer_timeout, std::chrono::seconds(30)) << "the default";
    auto patient =
        load_config(dir.write("p.ini", std::string(kMinimal) + "\n[store]\nbackend = postgresql\ndsn = host=db1\n"
                                                               "busy_timeout = 1s\nanswer_timeout = 3s\n"));
    ASSERT_TRUE(patient) << dump(patient.error());
    EXPECT_EQ(patient->store.answer_timeout, std::chrono::seconds(3));
    auto sqlite = load_config(dir.write("b.ini", kMinimal));
    ASSERT_TRUE(sqlite);
    EXPECT_EQ(sqlite->store.backend, StoreBackend::sqlite) << "the embedded default";
    // Refusals, each named: no dsn; a password inside the dsn (both forms), not echoed;
    // a SQLite path with PostgreSQL; a dsn with SQLite; an unknown engine.
    const std::vector<std::pair<std::string, std::string>> refused{
        {"backend = postgresql\n", "[store] dsn: missing required value"},
        {"backend = postgresql\ndsn = host=db1 password=Inl1ne-S3cret\n", "[store] dsn: passwords are never written"},
        {"backend = postgresql\ndsn = postgresql://kh:Inl1ne-S3cret@db1/k\n", "[store] dsn: passwords are never"},
        {"backend = postgresql\ndsn = host=db1\npath = k.db\n", "[store] path: is for backend = sqlite"},
        {"dsn = host=db1\n", "[store] dsn: is for backend = postgresql"},
        {"backend = oracle\n", "[store] backend: unknown value 'oracle'"},
        {"backend = postgresql\ndsn = host=db1\nanswer_timeout = 6s\n",
         "[store] answer_timeout: must be at least busy_timeout + 2s"},
        {"answer_timeout = 30s\n", "[store] answer_timeout: is for backend = postgresql"},
    };
    for (const auto& [store, problem] : refused) {
        auto config = load_config(dir.write("c.ini", std::string(kMinimal) + "\n[store]\n" + store));
        ASSERT_FALSE(config) << store;
        const std::string problems = dump(config.error());
        EXPECT_NE(problems.find(problem), std::string::npos) << problems;
        EXPECT_EQ(problems.find("Inl1ne-S3cret"), std::string::npos) << "a password is never echoed: " << problems;
    }
}

TEST(Config, BrokenFileListsEveryProblemWithFileSectionAndKey) {
    TempDir dir;
    auto file = dir.write("broken.ini", R"(
[service]
data_dir = data
admin_groups = Admins
colour = blue
[http]
listen = 10.0.0.5:8443
read_timeout = 2x
[ldap]
uris = ldaps://dc1.example.com
base_dn = DC=example,DC=com
bind_dn = CN=svc,DC=example,DC=com
bind_password = hunter2
[smtp]
user = mailer
password_file = /nonexistent/smtp.password
sessions = 17
[policy.noapprovers]
requester_groups = Ops
max_duration = 4h
default_duration = 8h
[policy.badticket]
requester_groups = Ops
stage1_approvers = Leads
ticket_pattern = (INC
[entry.orphan]
policy = missing
release = password
account = da-1
[report.weekly]
report = checkout-requests
schedule = 0 6 * *
[colours]
red = 1
)");
    auto config = load_config(file);
    ASSERT_FALSE(config);
    const auto& problems = config.error();
    const std::string text = dump(problems);
    EXPECT_TRUE(has_problem(problems, "service", "colour", "unknown key")) << text;
    EXPECT_TRUE(has_problem(problems, "http", "read_timeout", "bad duration '2x'")) << text;
    EXPECT_TRUE(has_problem(problems, "http", "listen", "only allowed on a loopback")) << text;
    EXPECT_TRUE(has_problem(problems, "ldap", "bind_password", "never written inline")) << text;
    EXPECT_TRUE(has_problem(problems, "ldap", "bind_password_file", "missing required value")) << text;
    EXPECT_TRUE(has_problem(problems, "smtp", "password_file", "cannot read ")) << text;
    EXPECT_TRUE(has_problem(problems, "smtp", "password_file", "smtp.password")) << text;
    EXPECT_TRUE(has_problem(problems, "smtp", "sessions", "")) << text;
    EXPECT_TRUE(has_problem(problems, "policy.noapprovers", "stage1_approvers", "needs approvers")) << text;
    EXPECT_TRUE(has_problem(problems, "policy.noapprovers", "default_duration", "longer than max_duration")) << text;
    EXPECT_TRUE(has_problem(problems, "policy.badticket", "ticket_pattern", "bad regular expression")) << text;
    EXPECT_TRUE(has_problem(problems, "entry.orphan", "policy", "not defined")) << text;
    EXPECT_TRUE(has_problem(problems, "report.weekly", "schedule", "5 fields")) << text;
    EXPECT_TRUE(has_problem(problems, "colours", "", "unknown section")) << text;
    for (const auto& p : problems) {
        EXPECT_EQ(p.file, file.string());
        EXPECT_EQ(p.to_string().rfind(file.string() + ":", 0), 0U) << p.to_string();
    }
    // The inline password is never echoed back.
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
}

TEST(Config, MissingRequiredValuesAreNamed) {
    TempDir dir;
    auto file = dir.write("k.ini", "[service]\ndata_dir = d\n[ldap]\nbind = gssapi\n[entry.e]\nrelease = group\n");
    auto config = load_config(file);
    ASSERT_FALSE(config);
    const auto& problems = config.error();
    EXPECT_TRUE(has_problem(problems, "service", "admin_groups", "missing required value")) << dump(problems);
    EXPECT_TRUE(has_problem(problems, "ldap", "uris", "missing required value")) << dump(problems);
    EXPECT_TRUE(has_problem(problems, "ldap", "base_dn", "missing required value")) << dump(problems);
    EXPECT_EQ(has_problem(problems, "ldap", "keytab", "missing required value"), kKerberosKeytabs) << dump(problems);
    EXPECT_TRUE(has_problem(problems, "entry.e", "policy", "missing required value")) << dump(problems);
    EXPECT_TRUE(has_problem(problems, "entry.e", "group", "missing required value")) << dump(problems);
}

TEST(Config, PasswordFileReadableByOthersIsRefused) {
    TempDir dir;
    dir.write("data/ldap.password", "pw", 0644);
    auto file = dir.write("k.ini", kMinimal);
    auto config = load_config(file);
    ASSERT_FALSE(config);
    EXPECT_TRUE(has_problem(config.error(), "ldap", "bind_password_file", kPrivateFileHint)) << dump(config.error());
}

TEST(Config, UnsetEnvironmentPasswordIsNamed) {
    TempDir dir;
    std::string text = kMinimal;
    text.replace(text.find("bind_password_file = ldap.password"), 34, "bind_password_env = KEYHOLDER_TEST_UNSET_VAR");
    auto config = load_config(dir.write("k.ini", text));
    ASSERT_FALSE(config);
    EXPECT_TRUE(has_problem(config.error(), "ldap", "bind_password_env", "KEYHOLDER_TEST_UNSET_VAR is not set"))
        << dump(config.error());
}

TEST(Config, PlainSimpleBindToARemoteServerIsRefused) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    std::string text = kMinimal;
    text.replace(text.find("ldaps://dc1.example.com"), 23, "ldap://dc1.example.com");
    auto config = load_config(dir.write("k.ini", text));
    ASSERT_FALSE(config);
    EXPECT_TRUE(has_problem(config.error(), "ldap", "uris", "in clear")) << dump(config.error());
}

TEST(Config, StagesMustBeContiguous) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    std::string text = kMinimal;
    text.replace(text.find("stage1_approvers = Leads"), 24, "stage1_approvers = Leads\nstage3_approvers = Sec");
    auto config = load_config(dir.write("k.ini", text));
    ASSERT_FALSE(config);
    EXPECT_TRUE(has_problem(config.error(), "policy.p", "stage2_approvers", "missing required value"))
        << dump(config.error());
}

TEST(Config, BadNamesAndUnknownReleaseKinds) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    std::string text = kMinimal;
    text += "[entry.Bad Name]\npolicy = p\nrelease = group\ngroup = g\n[entry.x]\npolicy = p\nrelease = telepathy\n";
    auto config = load_config(dir.write("k.ini", text));
    ASSERT_FALSE(config);
    EXPECT_TRUE(has_problem(config.error(), "entry.Bad Name", "", "bad name")) << dump(config.error());
    EXPECT_TRUE(has_problem(config.error(), "entry.x", "release", "unknown release kind 'telepathy'"))
        << dump(config.error());
}

// Found by fuzz_config: a key with an empty part (".~") recursed until the stack ran out.
TEST(Config, AKeyOrSectionWithAnEmptyPartIsAProblemNotACrash) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    for (const std::string extra : {".~\n", "[.]\nx = 1\n", "[policy..p]\nx = 1\n", "[ldap]\nuri. = a\n"}) {
        auto config = load_config(dir.write("k.ini", kMinimal + extra));
        ASSERT_FALSE(config) << extra;
        EXPECT_TRUE(std::any_of(config.error().begin(), config.error().end(),
                                [](const Problem& p) { return p.message.find("empty part") != std::string::npos; }))
            << extra << dump(config.error());
    }
}

// Found by fuzz_config: a back-reference with 20 digits overflowed inside libstdc++'s
// regex compiler (undefined behaviour). A ticket pattern has no back-references.
TEST(Config, ATicketPatternWithABackReferenceOrTooLongIsRefused) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    auto with = [&](const std::string& pattern) {
        std::string text = kMinimal;
        text += "[policy.q]\nrequester_groups = Ops\nstage1_approvers = Leads\nticket_pattern = " + pattern + "\n";
        return load_config(dir.write("k.ini", text));
    };
    auto back = with("(INC)\\11111111111111111111");
    ASSERT_FALSE(back);
    EXPECT_TRUE(has_problem(back.error(), "policy.q", "ticket_pattern", "back-references")) << dump(back.error());
    auto long_one = with(std::string(300, 'a'));
    ASSERT_FALSE(long_one);
    EXPECT_TRUE(has_problem(long_one.error(), "policy.q", "ticket_pattern", "longer than 256"))
        << dump(long_one.error());
    EXPECT_TRUE(with("INC\\\\[0-9]+")) << "an escaped backslash before a digit is no back-reference";
    EXPECT_TRUE(with("(CHG|INC)-[0-9]{4,8}"));
}

TEST(Config, UnreadableFileIsOneProblem) {
    auto config = load_config("/nonexistent/keyholder.ini");
    ASSERT_FALSE(config);
    ASSERT_EQ(config.error().size(), 1U);
    EXPECT_NE(config.error()[0].to_string().find("/nonexistent/keyholder.ini: cannot read"), std::string::npos);
}

} // namespace
