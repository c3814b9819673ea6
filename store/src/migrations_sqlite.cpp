// The schema history of keyholder on SQLite.
//
// Never edit a migration that has shipped: add a new one (here and in
// migrations_postgresql.cpp). Timestamps are UTC seconds since the epoch. Check
// constraints spell out the states of DESIGN.md so that a bug cannot write a state
// the rest of the code does not know.
#include <array>

#include "migration_lists.h"

namespace keyholder::store::detail {
namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
);

-- Policies and entries mirror the configuration (the config file is the source of
-- truth); the rows give requests something stable to refer to and keep a history.
CREATE TABLE policies (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    definition TEXT    NOT NULL,             -- JSON snapshot of the [policy.NAME] section
    updated_at INTEGER NOT NULL
);

CREATE TABLE entries (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    policy_id    INTEGER NOT NULL REFERENCES policies(id),
    kinds        TEXT    NOT NULL,           -- comma list of password, enable, group
    account      TEXT,                       -- the privileged account (sAMAccountName or DN)
    group_name   TEXT,                       -- group for just-in-time membership
    retired      INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    updated_at   INTEGER NOT NULL
);

CREATE TABLE checkouts (
    id               INTEGER PRIMARY KEY,
    request_id       INTEGER NOT NULL UNIQUE REFERENCES requests(id),
    entry_id         INTEGER NOT NULL REFERENCES entries(id),
    holder_sid       TEXT    NOT NULL,
    holder_name      TEXT    NOT NULL,
    starts_at        INTEGER NOT NULL,
    ends_at          INTEGER NOT NULL CHECK (ends_at > starts_at),
    state            TEXT    NOT NULL CHECK (state IN ('scheduled', 'active', 'ended')),
    ended_at         INTEGER,
    end_reason       TEXT CHECK (end_reason IS NULL OR end_reason IN ('checked_in', 'expired', 'revoked')),
    takeback_state   TEXT    NOT NULL DEFAULT 'none'
                     CHECK (takeback_state IN ('none', 'pending', 'done', 'failed')),
    takeback_attempts INTEGER NOT NULL DEFAULT 0,
    takeback_next_at INTEGER,
    takeback_error   TEXT,
    retrievals       INTEGER NOT NULL DEFAULT 0,
    CHECK ((state = 'ended') = (ended_at IS NOT NULL AND end_reason IS NOT NULL))
);

CREATE TABLE requests (
    id                INTEGER PRIMARY KEY,
    entry_id          INTEGER NOT NULL REFERENCES entries(id),
    requester_sid     TEXT    NOT NULL,
    requester_name    TEXT    NOT NULL,      -- sAMAccountName at request time
    requester_display TEXT    NOT NULL DEFAULT '',
    reason            TEXT    NOT NULL,
    ticket            TEXT,
    requested_at      INTEGER NOT NULL,
    start_at          INTEGER,               -- NULL: starts when the last approval lands
    duration_s        INTEGER NOT NULL CHECK (duration_s > 0),
    state             TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'active', 'ended',
                                                        'denied', 'cancelled', 'lapsed')),
    stage             INTEGER NOT NULL DEFAULT 1 CHECK (stage >= 1),
    deadline_at       INTEGER NOT NULL,      -- lapses when still pending at this time
    decided_at        INTEGER,
    extends_checkout_id INTEGER REFERENCES checkouts(id) -- set for an extension request
);

CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY,
    request_id    INTEGER NOT NULL REFERENCES requests(id),
    stage         INTEGER NOT NULL CHECK (stage >= 1),
    approver_sid  TEXT    NOT NULL,
    approver_name TEXT    NOT NULL,
    decision      TEXT    NOT NULL CHECK (decision IN ('approve', 'deny')),
    comment       TEXT,
    via           TEXT    NOT NULL CHECK (via IN ('api', 'link', 'cli')),
    decided_at    INTEGER NOT NULL,
    UNIQUE (request_id, approver_sid)        -- one person never counts twice, in any stage
);

-- Secrets are AES-256-GCM ciphertext; the key lives outside the database.
CREATE TABLE secrets (
    entry_id   INTEGER PRIMARY KEY REFERENCES entries(id),
    key_id     TEXT    NOT NULL,
    nonce      BLOB    NOT NULL,
    ciphertext BLOB    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);

-- The audit trail: append-only, a SHA-256 hash chain over (seq, at, actor, action,
-- subject, details) and the previous event's hash. The triggers stop the service
-- (or a careless admin) from rewriting history; the chain shows it when someone does
-- it anyway with a raw SQLite tool.
CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL UNIQUE
);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

-- Transactional outbox: a notification is written in the same transaction as the
-- state change that causes it and sent later by a worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    kind            TEXT    NOT NULL,        -- template name, e.g. approval_needed
    recipient       TEXT    NOT NULL,        -- mail address
    request_id      INTEGER REFERENCES requests(id),
    payload         TEXT    NOT NULL,        -- JSON for the template; never a secret
    message_id      TEXT    NOT NULL UNIQUE, -- stable across retries and restarts
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER
);

-- Used approval-link nonces: a link works once.
CREATE TABLE link_tokens (
    nonce        TEXT    PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES requests(id),
    approver_sid TEXT    NOT NULL,
    used_at      INTEGER NOT NULL
);

CREATE INDEX requests_state_deadline ON requests(state, deadline_at);
CREATE INDEX requests_requester ON requests(requester_sid, requested_at);
CREATE INDEX checkouts_state_ends ON checkouts(state, ends_at);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
)sql";

// v2: report runs (scheduled and on-demand exports) and the take-back retry index.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE report_runs (
    id           INTEGER PRIMARY KEY,
    schedule     TEXT,                       -- [report.NAME] section, NULL for on-demand
    report       TEXT    NOT NULL,           -- checkout-requests, active-checkouts, approvals, audit
    window_from  INTEGER,
    window_to    INTEGER,
    due_at       INTEGER,                    -- the cron time this run is for
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    state        TEXT    NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    rows         INTEGER,
    file         TEXT,
    sha256       TEXT,
    error        TEXT,
    attempt      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX report_runs_schedule_due ON report_runs(schedule, due_at);
CREATE INDEX checkouts_takeback_due ON checkouts(takeback_state, takeback_next_at);
)sql";

// v3: a pending secret beside the current one. A rotation first records the new
// password (sealed) as pending, then sets it in AD, then promotes it; a retry after a
// failure reuses the pending one, so the directory and the store always converge.
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE secrets ADD COLUMN pending_key_id TEXT;
ALTER TABLE secrets ADD COLUMN pending_nonce BLOB;
ALTER TABLE secrets ADD COLUMN pending_ciphertext BLOB;
)sql";

// v4: releases are retried like take-backs (a DC that refused the enable or the group
// add is asked again, with backoff, while the window lasts).
constexpr std::string_view kSchemaV4 = R"sql(
ALTER TABLE checkouts ADD COLUMN release_state TEXT NOT NULL DEFAULT 'none';
ALTER TABLE checkouts ADD COLUMN release_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkouts ADD COLUMN release_next_at INTEGER;
ALTER TABLE checkouts ADD COLUMN release_error TEXT;
CREATE INDEX checkouts_release_due ON checkouts(release_state, release_next_at);
)sql";

// v5: when the "ends in 10 minutes" notice went out, so that it goes out once.
constexpr std::string_view kSchemaV5 = R"sql(
ALTER TABLE checkouts ADD COLUMN ending_notice_at INTEGER;
)sql";

// v6: the audit hash is no longer indexed. What makes the history verifiable is the
// chain (each event's hash covers the previous one's, in seq order); a UNIQUE index
// on a random-looking hash added nothing to that but one more page written per
// event, on a random leaf (about a fifth of what a request creation writes).
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE audit_events_v6 (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
INSERT INTO audit_events_v6(seq, at, actor, action, subject, details, prev_hash, hash)
    SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_v6 RENAME TO audit_events;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
)sql";

// v7: outbox.message_id is no longer UNIQUE-indexed. The service makes it unique by
// construction (64 random bits per process and a counter, or a random UUID), and
// the index was the costliest b-tree of a request creation: about a quarter of the
// WAL pages a group of created requests writes (measured with a replay of the schema).
constexpr std::string_view kSchemaV7 = R"sql(
CREATE TABLE outbox_v7 (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    kind            TEXT    NOT NULL,        -- template name, e.g. approval_needed
    recipient       TEXT    NOT NULL,        -- mail address
    request_id      INTEGER REFERENCES requests(id),
    payload         TEXT    NOT NULL,        -- JSON for the template; never a secret
    message_id      TEXT    NOT NULL,        -- stable across retries and restarts; unique by construction
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER
);
INSERT INTO outbox_v7(id, created_at, kind, recipient, request_id, payload, message_id, state, attempts,
                      next_attempt_at, last_error, sent_at)
    SELECT id, created_at, kind, recipient, request_id, payload, message_id, state, attempts,
           next_attempt_at, last_error, sent_at FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_v7 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
)sql";

// v8: a take-back is claimed before it runs: the claim sets a lease, so that a
// check-in and a scheduler pass (or two nodes) never run the same take-back twice,
// and a claim whose runner died expires.
constexpr std::string_view kSchemaV8 = R"sql(
ALTER TABLE checkouts ADD COLUMN takeback_lease_until INTEGER;
)sql";

// v9: an approver may grant a shorter window than asked; the window granted is the
// shortest of the request's duration and every approval's grant.
constexpr std::string_view kSchemaV9 = R"sql(
ALTER TABLE approvals ADD COLUMN granted_s INTEGER CHECK (granted_s IS NULL OR granted_s > 0);
)sql";

// v10: portal sessions, kept in the store so that every node knows them. Only a hash
// of the session id is kept (the id is the cookie); the CSRF token goes to the page.
constexpr std::string_view kSchemaV10 = R"sql(
CREATE TABLE portal_sessions (
    id_hash      TEXT    PRIMARY KEY,     -- hex SHA-256 of the cookie's 256-bit id
    user_id      TEXT    NOT NULL,        -- objectSid (or uuid:...)
    user_name    TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    method       TEXT    NOT NULL CHECK (method IN ('password', 'negotiate')),
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL         -- the absolute end
) WITHOUT ROWID;
CREATE INDEX portal_sessions_expiry ON portal_sessions(expires_at);
)sql";

// v11: indexes for the check-out requests view, one per filter it offers, each
// ordered by request time so that a page is read off the index, not sorted.
constexpr std::string_view kSchemaV11 = R"sql(
CREATE INDEX requests_requested ON requests(requested_at);
CREATE INDEX requests_entry_requested ON requests(entry_id, requested_at);
CREATE INDEX requests_requester_name ON requests(requester_name, requested_at);
CREATE INDEX requests_state_requested ON requests(state, requested_at);
CREATE INDEX approvals_approver_name ON approvals(approver_name, request_id);
CREATE INDEX approvals_approver_sid ON approvals(approver_sid, request_id);
)sql";

// v12: a notification is claimed before it is sent (several nodes share the outbox;
// a claim whose sender died expires).
constexpr std::string_view kSchemaV12 = R"sql(
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
)sql";

constexpr std::array kSqlite{
    Migration{1,
              "initial schema: policies, entries, requests, approvals, checkouts, secrets, audit, outbox, "
              "link tokens",
              kSchemaV1},
    Migration{2, "report runs and take-back retry index", kSchemaV2},
    Migration{3, "pending secrets for converging password rotations", kSchemaV3},
    Migration{4, "release retries", kSchemaV4},
    Migration{5, "ending-soon notices", kSchemaV5},
    Migration{6, "audit hash without an index", kSchemaV6},
    Migration{7, "outbox message id without an index", kSchemaV7},
    Migration{8, "take-back claims with a lease", kSchemaV8},
    Migration{9, "approvals that grant a shorter window", kSchemaV9},
    Migration{10, "portal sessions", kSchemaV10},
    Migration{11, "indexes for the check-out requests view", kSchemaV11},
    Migration{12, "outbox claims with a lease", kSchemaV12},
};

} // namespace

std::span<const Migration> sqlite_migrations() { return kSqlite; }

} // namespace keyholder::store::detail
