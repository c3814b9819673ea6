// The catalog: the policies and entries of the configuration, mirrored into the
// store at start-up so that requests refer to stable rows and the audit trail shows
// which configuration the service ran with.
#pragma once

#include <string>

#include "keyholder/config/config.h"
#include "keyholder/core/clock.h"
#include "keyholder/store/connection.h"

namespace keyholder::core {

struct CatalogSync {
    int policies_changed = 0; ///< new or with a changed definition
    int entries = 0;
    int entries_retired = 0; ///< in the store but no longer configured
    std::string config_sha256;
};

/// policy_definition_json: the canonical JSON of a policy (what the store keeps).
std::string policy_definition_json(const config::Policy& policy);

/// record_service_start: one transaction — upserts every policy and entry, retires
/// entries that left the configuration, and appends the audit event
/// "service.started" (version, configuration file and its SHA-256, counts), plus one
/// "policy.changed" event per policy whose definition changed.
CatalogSync record_service_start(store::Connection& connection, const config::Config& config, const Clock& clock,
                                 const std::string& version);

/// record_service_stop: the audit event "service.stopped".
void record_service_stop(store::Connection& connection, const Clock& clock, const std::string& version);

} // namespace keyholder::core
