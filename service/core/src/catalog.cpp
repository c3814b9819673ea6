// Mirroring the configured catalog into the store (see catalog.h).
#include "keyholder/core/catalog.h"

#include "keyholder/platform/files.h"

#include <Poco/DigestStream.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "keyholder/store/audit.h"
#include "keyholder/store/records.h"

namespace keyholder::core {
namespace {

std::string to_json(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

Poco::JSON::Array::Ptr array_of(const std::vector<std::string>& items) {
    Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
    for (const auto& item : items)
        array->add(item);
    return array;
}

std::string release_kinds(const config::Entry& entry) {
    std::string out;
    for (auto kind : entry.release) {
        if (!out.empty()) out += ",";
        out += kind == config::ReleaseKind::password ? "password"
               : kind == config::ReleaseKind::enable ? "enable"
                                                     : "group";
    }
    return out;
}

} // namespace

std::string policy_definition_json(const config::Policy& policy) {
    Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
    object.set("requester_groups", array_of(policy.requester_groups));
    Poco::JSON::Array::Ptr stages = new Poco::JSON::Array;
    for (const auto& stage : policy.stages) {
        Poco::JSON::Object::Ptr s = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        s->set("approver_groups", array_of(stage.approver_groups));
        s->set("manager", stage.requester_manager);
        s->set("approvals", stage.approvals);
        stages->add(s);
    }
    object.set("stages", stages);
    object.set("default_duration_s", policy.default_duration.count());
    object.set("max_duration_s", policy.max_duration.count());
    object.set("request_ttl_s", policy.request_ttl.count());
    object.set("reason_required", policy.reason_required);
    if (policy.ticket_pattern) object.set("ticket_pattern", *policy.ticket_pattern);
    object.set("exclusive", policy.exclusive);
    object.set("max_schedule_ahead_s", policy.max_schedule_ahead.count());
    object.set("max_extension_s", policy.max_extension.count());
    return to_json(object);
}

CatalogSync record_service_start(store::Connection& connection, const config::Config& config, const Clock& clock,
                                 const std::string& version) {
    const int64_t now = clock.now();
    CatalogSync sync;
    sync.config_sha256 = platform::file_sha256(config.file);
    store::Transaction tx(connection);
    std::map<std::string, int64_t> policy_ids;
    for (const auto& [name, policy] : config.policies) {
        const std::string definition = policy_definition_json(policy);
        auto previous = store::find_policy_definition(connection, name);
        policy_ids[name] = store::upsert_policy(tx, name, definition, now);
        if (!previous || *previous != definition) {
            ++sync.policies_changed;
            Poco::JSON::Object details(Poco::JSON_PRESERVE_KEY_ORDER);
            details.set("policy", name);
            details.set("new", !previous.has_value());
            store::append_audit_event(tx, {now, "system", "policy.changed", "policy:" + name, to_json(details)});
        }
    }
    std::set<std::string> configured;
    for (const auto& [name, entry] : config.entries) {
        configured.insert(name);
        store::EntryRecord record{name,
                                  entry.display_name,
                                  policy_ids.at(entry.policy),
                                  release_kinds(entry),
                                  entry.account.empty() ? std::nullopt : std::optional(entry.account),
                                  entry.group.empty() ? std::nullopt : std::optional(entry.group)};
        store::upsert_entry(tx, record, now);
        ++sync.entries;
    }
    for (const auto& name : store::list_active_entry_names(connection)) {
        if (configured.count(name) != 0) continue;
        store::retire_entry(tx, name, now);
        ++sync.entries_retired;
        store::append_audit_event(
            tx, {now, "system", "entry.retired", "entry:" + name, R"({"reason":"no longer in the configuration"})"});
    }
    Poco::JSON::Object details(Poco::JSON_PRESERVE_KEY_ORDER);
    details.set("version", version);
    details.set("config_file", config.file.string());
    details.set("config_sha256", sync.config_sha256);
    details.set("policies", static_cast<int>(config.policies.size()));
    details.set("entries", sync.entries);
    store::append_audit_event(tx,
                              {now, "system", "service.started", "service:" + config.service.name, to_json(details)});
    tx.commit();
    return sync;
}

void record_service_stop(store::Connection& connection, const Clock& clock, const std::string& version) {
    store::Transaction tx(connection);
    store::append_audit_event(
        tx, {clock.now(), "system", "service.stopped", "service", "{\"version\":\"" + version + "\"}"});
    tx.commit();
}

} // namespace keyholder::core
