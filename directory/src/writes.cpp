// Directory writes and binds (see directory.h): password checks and resets, enabling
// accounts, group members — each idempotent, so that a retried take-back succeeds.
#include "directory_impl.h"

namespace keyholder::directory {

Result<void> Directory::verify_password(const User& user, std::string_view password) {
    if (password.empty()) return std::unexpected(refused("an empty password never signs anyone on"));
    auto session = detail::open_user_session(impl_->settings, user.dn, std::string(password));
    if (!session) return std::unexpected(session.error());
    return {};
}

Result<void> Directory::reset_password(const User& account, std::string_view new_password) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    if (new_password.empty()) return std::unexpected(refused("refusing to set an empty password"));
    auto done = impl_->run<void>([&](Session& s) -> Result<void> {
        if (*f == Flavour::active_directory) {
            // AD accepts unicodePwd only over an encrypted connection; check before sending.
            if (!s.encrypted())
                return std::unexpected(refused("refusing to send a password over an unencrypted connection to " +
                                                   s.uri() + ": use ldaps:// or StartTLS",
                                               s.uri()));
            return s.modify(account.dn, {{detail::ModOp::replace, "unicodePwd", {unicode_pwd_value(new_password)}}});
        }
        if (!s.encrypted() && !is_loopback_uri(s.uri()))
            return std::unexpected(
                refused("refusing to send a password over an unencrypted connection to " + s.uri(), s.uri()));
        return s.password_modify(account.dn, std::string(new_password));
    });
    invalidate(account);
    return done;
}

Result<void> Directory::set_enabled(const User& account, bool enabled) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    auto done = impl_->run<void>([&](Session& s) -> Result<void> {
        if (*f == Flavour::active_directory) {
            auto entry = s.read(account.dn, {"userAccountControl"});
            if (!entry) return std::unexpected(entry.error());
            if (!*entry) return std::unexpected(not_found("no such account: " + account.dn));
            int64_t uac = std::stoll((*entry)->first("userAccountControl"));
            int64_t wanted = enabled ? (uac & ~kUacAccountDisable) : (uac | kUacAccountDisable);
            if (wanted == uac) return {};
            return s.modify(account.dn, {{detail::ModOp::replace, "userAccountControl", {std::to_string(wanted)}}});
        }
        if (enabled) {
            auto r = s.modify(account.dn, {{detail::ModOp::remove, "pwdAccountLockedTime", {}}});
            if (!r && r.error().ldap_code == detail::result_code::no_such_attribute) return {}; // already enabled
            return r;
        }
        return s.modify(account.dn, {{detail::ModOp::replace, "pwdAccountLockedTime", {kOpenLdapLocked}}});
    });
    invalidate(account);
    return done;
}

// Member writes are idempotent: a take-back or release that is retried must succeed
// when its goal is already reached. `done_codes` are the answers that mean exactly that.
static Result<void> change_member(detail::SessionPool& pool, const Group& group, const User& user, detail::ModOp op,
                                  std::initializer_list<int> done_codes) {
    return pool.run<void>([&](Session& s) -> Result<void> {
        auto r = s.modify(group.dn, {{op, "member", {user.dn}}});
        if (!r && std::find(done_codes.begin(), done_codes.end(), r.error().ldap_code) != done_codes.end()) return {};
        return r;
    });
}

Result<void> Directory::add_member(const Group& group, const User& user) {
    // Already a member: AD answers 68, OpenLDAP 20.
    auto done = change_member(impl_->pool, group, user, detail::ModOp::add,
                              {detail::result_code::type_or_value_exists, detail::result_code::already_exists});
    invalidate(user);
    impl_->members.clear(); // the group, and every group it is nested in, changed
    return done;
}

Result<void> Directory::remove_member(const Group& group, const User& user) {
    // Not a member (any more): AD answers 53, OpenLDAP 16.
    auto done = change_member(impl_->pool, group, user, detail::ModOp::remove,
                              {detail::result_code::no_such_attribute, detail::result_code::unwilling_to_perform});
    invalidate(user);
    impl_->members.clear(); // the group, and every group it is nested in, changed
    return done;
}

} // namespace keyholder::directory
