// Directory lookups (see directory.h): users by any name, DN or id, managers, groups.
#include "directory_impl.h"

namespace keyholder::directory {

Result<User> Directory::find_user(std::string_view login_view, Freshness freshness) {
    std::string login(login_view);
    if (login.empty() || login.size() > 256 || login.find('\0') != std::string::npos)
        return std::unexpected(not_found("no such user"));
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    std::string attribute = *f == Flavour::active_directory ? "sAMAccountName" : "uid";
    std::string value = login;
    if (auto slash = login.find('\\'); slash != std::string::npos) {
        std::string domain = login.substr(0, slash);
        value = login.substr(slash + 1);
        if (impl_->settings.netbios_domain.empty() || lower(domain) != lower(impl_->settings.netbios_domain))
            return std::unexpected(not_found("no such user: unknown domain '" + domain + "'"));
    } else if (login.find('@') != std::string::npos) {
        attribute = *f == Flavour::active_directory ? "userPrincipalName" : "mail";
    }
    if (value.empty()) return std::unexpected(not_found("no such user"));
    const std::string filter = "(&" + user_class_filter(*f) + "(" + attribute + "=" + escape_filter_value(value) + "))";
    return impl_->cached_user("login:" + lower(login), freshness,
                              [&] { return impl_->search_one_user(filter, login); });
}

Result<User> Directory::find_user_by_dn(std::string_view dn_view, Freshness freshness) {
    std::string dn(dn_view);
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    return impl_->cached_user("dn:" + lower(dn), freshness, [&]() -> Result<User> {
        auto attrs = user_attributes(*f);
        const std::string filter = "(&" + user_class_filter(*f) + ")";
        auto entry = impl_->run<std::optional<Entry>>([&](Session& s) { return s.read(dn, attrs, filter); });
        if (!entry) return std::unexpected(entry.error());
        if (!*entry) return std::unexpected(not_found("no such user: " + dn));
        return impl_->to_user(**entry, *f);
    });
}

Result<User> Directory::find_user_by_id(std::string_view id_view, Freshness freshness) {
    std::string id(id_view);
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    std::string filter;
    if (id.starts_with("uuid:")) {
        filter = "(&" + user_class_filter(*f) + "(entryUUID=" + escape_filter_value(id.substr(5)) + "))";
    } else if (auto binary = sid_from_string(id)) {
        filter = "(&" + user_class_filter(*f) + "(objectSid=" + escape_filter_bytes(*binary) + "))";
    } else {
        return std::unexpected(not_found("no such user: '" + id + "' is not a SID or uuid:"));
    }
    return impl_->cached_user("id:" + lower(id), freshness, [&] { return impl_->search_one_user(filter, id); });
}

Result<User> Directory::manager_of(const User& user, Freshness freshness) {
    if (user.manager_dn.empty())
        return std::unexpected(not_found(user.sam_account_name + " has no manager in the directory"));
    return find_user_by_dn(user.manager_dn, freshness);
}

Result<Group> Directory::find_group(std::string_view spec_view) {
    std::string spec(spec_view);
    if (spec.empty() || spec.find('\0') != std::string::npos) return std::unexpected(not_found("no such group"));
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    const std::string key = "group:" + lower(spec);
    if (auto hit = impl_->groups.get(key)) {
        if (*hit) return **hit;
        return std::unexpected(not_found("no such group: " + spec + " (cached)"));
    }
    auto attrs = group_attributes(*f);
    Result<std::vector<Entry>> found;
    if (auto binary = spec.starts_with("S-1-") ? sid_from_string(spec) : std::nullopt) {
        std::string filter = "(&" + group_class_filter(*f) + "(objectSid=" + escape_filter_bytes(*binary) + "))";
        found = impl_->run<std::vector<Entry>>(
            [&](Session& s) { return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, attrs, 2); });
    } else if (spec.find('=') != std::string::npos) {
        found = impl_->run<std::vector<Entry>>([&](Session& s) -> Result<std::vector<Entry>> {
            auto entry = s.read(spec, attrs, group_class_filter(*f));
            if (!entry) return std::unexpected(entry.error());
            if (!*entry) return std::vector<Entry>{};
            return std::vector<Entry>{**entry};
        });
    } else {
        std::string value = escape_filter_value(spec);
        std::string filter =
            *f == Flavour::active_directory
                ? "(&" + group_class_filter(*f) + "(|(sAMAccountName=" + value + ")(cn=" + value + ")))"
                : "(&" + group_class_filter(*f) + "(cn=" + value + "))";
        found = impl_->run<std::vector<Entry>>(
            [&](Session& s) { return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, attrs, 2); });
    }
    if (!found) return std::unexpected(found.error());
    if (found->empty()) {
        impl_->groups.put(key, std::nullopt);
        return std::unexpected(not_found("no such group: " + spec));
    }
    if (found->size() > 1)
        return std::unexpected(refused("more than one group matches '" + spec + "': give its DN or SID"));
    Group group = impl_->to_group(found->front(), *f);
    impl_->groups.put(key, group);
    return group;
}

} // namespace keyholder::directory
