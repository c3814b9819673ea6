// Directory (see directory.h): set-up, the flavour, the rootDSE probe and the cache;
// lookups, membership and writes are in files of their own (directory_impl.h).
#include "keyholder/directory/directory.h"

#include "directory_impl.h"

namespace keyholder::directory {

const char* to_string(MembershipVia via) {
    switch (via) {
    case MembershipVia::direct: return "direct";
    case MembershipVia::nested: return "nested";
    case MembershipVia::primary: return "primary group";
    }
    return "?";
}

const char* to_string(Flavour flavour) {
    return flavour == Flavour::active_directory ? "Active Directory" : "OpenLDAP";
}

Directory::Directory(DirectorySettings settings, std::function<int64_t()> now) {
    if (!now)
        now = [] {
            return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
    impl_ = std::make_unique<Impl>(std::move(settings), std::move(now));
}

Directory::~Directory() = default;

Result<Flavour> Directory::flavour() { return impl_->get_flavour(); }

Result<RootDse> Directory::probe() { return impl_->probe(); }

void Directory::invalidate(const User& user) {
    const std::string id = user.id();
    impl_->memberships.erase("groups:" + id);
    impl_->tokens.erase("tokens:" + id);
    impl_->users.erase("dn:" + lower(user.dn));
    impl_->users.erase("id:" + lower(id));
    const std::string sam = lower(user.sam_account_name);
    const std::string upn = lower(user.user_principal_name);
    impl_->users.erase_if([&](const std::string& key) {
        if (key.rfind("login:", 0) != 0) return false;
        std::string login = key.substr(6);
        auto slash = login.find('\\');
        if (slash != std::string::npos) login = login.substr(slash + 1);
        return login == sam || (!upn.empty() && login == upn);
    });
}

void Directory::invalidate_all() {
    impl_->users.clear();
    impl_->groups.clear();
    impl_->tokens.clear();
    impl_->memberships.clear();
    impl_->members.clear();
}

CacheStats Directory::cache_stats() const {
    CacheStats stats;
    stats.hits = impl_->users.hits() + impl_->groups.hits() + impl_->memberships.hits();
    stats.misses = impl_->users.misses() + impl_->groups.misses() + impl_->memberships.misses();
    stats.entries = impl_->users.size() + impl_->groups.size() + impl_->memberships.size();
    return stats;
}

} // namespace keyholder::directory
