// The CLI commands that talk to keyholderd's JSON API: their definitions (arguments,
// options, help) and what each does.
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timespan.h>

#include <Poco/URI.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>

#include "api_client.h"
#include "cli_support.h"
#include "command_line.h"
#include "keyholder/config/duration.h"
#include "keyholder/platform/files.h"
#include "keyholder/platform/terminal.h"

namespace keyholder::cli {

namespace {

using Poco::JSON::Object;

struct Context {
    std::map<std::string, std::string> options;
    std::optional<ApiClient> client;
    bool json = false;
};

Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Object::Ptr>();
}

std::string text(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key) || o->isNull(key)) return "";
    return o->get(key).convert<std::string>();
}

// finish: prints the answer (or its error) and maps the status to an exit code.
int finish(const Context& ctx, const ApiAnswer& answer, const std::function<void(const Object::Ptr&)>& print) {
    if (answer.status == 0) {
        std::cerr << "keyholder: " << answer.error << '\n';
        return answer.error.find("Kerberos") != std::string::npos ? kSignOn : kFailed;
    }
    if (answer.status >= 400) {
        std::cerr << "keyholder: " << answer.error << (answer.code.empty() ? "" : " (" + answer.code + ")") << '\n';
        if (ctx.json) std::cout << answer.body << '\n';
        if (answer.status == 401 || answer.status == 429 || answer.code == "account_disabled") return kSignOn;
        if (answer.status >= 500) return kFailed;
        return kFound;
    }
    if (ctx.json) {
        std::cout << answer.body << '\n';
        return kOk;
    }
    try {
        print(parse(answer.body));
    } catch (const std::exception& e) {
        std::cerr << "keyholder: unexpected answer from the server: " << e.what() << '\n';
        return kFailed;
    }
    return kOk;
}

// plus_seconds: an ISO 8601 UTC time the API wrote, moved by `seconds`.
std::string plus_seconds(const std::string& iso, int64_t seconds) {
    int tz = 0;
    Poco::DateTime at;
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, iso, at, tz)) return iso;
    at.makeUTC(tz);
    at += Poco::Timespan(seconds, 0);
    return Poco::DateTimeFormatter::format(at, "%Y-%m-%dT%H:%M:%SZ");
}

void print_request(const Object::Ptr& r, bool detail) {
    const auto requester = r->getObject("requester");
    std::cout << "request " << text(r, "id") << "  " << text(r, "entry") << "  " << text(r, "state");
    if (text(r, "state") == "pending")
        std::cout << " (stage " << text(r, "stage") << " of " << text(r, "stages") << ", "
                  << text(r, "approvals_needed") << " approval(s) needed)";
    std::cout << '\n';
    auto checkout = r->getObject("checkout");
    if (detail) {
        std::cout << "  requester: " << text(requester, "display_name") << " (" << text(requester, "name") << ")\n"
                  << "  reason:    " << text(r, "reason") << '\n';
        if (!text(r, "ticket").empty()) std::cout << "  ticket:    " << text(r, "ticket") << '\n';
        const std::string asked =
            config::format_duration(std::chrono::seconds(r->getValue<int64_t>("duration_seconds")));
        if (auto extends = r->getObject("extends")) {
            // More time on another request's window, not a window of its own.
            std::cout << "  requested: " << text(r, "requested_at") << ": extends request " << text(extends, "request")
                      << " by " << asked
                      << (text(r, "state") == "pending"
                              ? ", to " +
                                    plus_seconds(text(extends, "ends_at"), r->getValue<int64_t>("duration_seconds")) +
                                    " (it ends " + text(extends, "ends_at") + " now)"
                              : " (it ends " + text(extends, "ends_at") + ")")
                      << '\n';
        } else {
            std::cout << "  requested: " << text(r, "requested_at") << " for " << asked
                      << (text(r, "start").empty() ? " from approval" : " from " + text(r, "start")) << '\n';
        }
        auto decisions = r->getArray("decisions");
        for (size_t i = 0; decisions && i < decisions->size(); ++i) {
            auto d = decisions->getObject(static_cast<unsigned>(i));
            std::cout << "  stage " << text(d, "stage") << ": " << text(d->getObject("approver"), "name") << ' '
                      << (text(d, "decision") == "approve" ? "approved" : "denied")
                      << (text(d, "granted_duration_seconds").empty()
                              ? ""
                              : " for at most " + config::format_duration(std::chrono::seconds(
                                                      d->getValue<int64_t>("granted_duration_seconds"))))
                      << " at " << text(d, "at")
                      << (text(d, "comment").empty() ? "" : " (\"" + text(d, "comment") + "\")") << '\n';
        }
    }
    if (checkout) {
        std::cout << "  check-out " << text(checkout, "id") << ": " << text(checkout, "state") << ", "
                  << text(checkout, "starts_at") << " .. " << text(checkout, "ends_at");
        // The actual end, when it differs from the planned one (checked in, revoked).
        if (!text(checkout, "ended_at").empty())
            std::cout << ", ended " << text(checkout, "ended_at") << " ("
                      << (text(checkout, "end_reason").empty() ? "ended" : text(checkout, "end_reason")) << ")";
        const std::string takeback = text(checkout, "takeback_state");
        if (takeback != "none") std::cout << ", take-back " << takeback;
        if (!text(checkout, "takeback_error").empty()) std::cout << ": " << text(checkout, "takeback_error");
        std::cout << '\n';
    }
}

void print_requests(const Object::Ptr& o, const std::set<std::string>& states) {
    auto list = o->getArray("requests");
    int shown = 0;
    for (size_t i = 0; i < list->size(); ++i) {
        auto r = list->getObject(static_cast<unsigned>(i));
        if (!states.empty() && states.count(text(r, "state")) == 0) continue;
        print_request(r, false);
        ++shown;
    }
    if (shown == 0) std::cout << "no requests\n";
}

// checkout_of: the check-out id behind a request id.
std::optional<std::string> checkout_of(Context& ctx, const std::string& request_id, int& exit_code) {
    auto answer = ctx.client->get("/api/v1/requests/" + request_id);
    if (answer.status != 200) {
        Context quiet = ctx;
        quiet.json = false;
        exit_code = finish(quiet, answer, [](const Object::Ptr&) {});
        return std::nullopt;
    }
    auto checkout = parse(answer.body)->getObject("checkout");
    if (!checkout) {
        std::cerr << "keyholder: request " << request_id << " has no check-out (it is "
                  << text(parse(answer.body), "state") << ")\n";
        exit_code = kFound;
        return std::nullopt;
    }
    return text(checkout, "id");
}

std::string json_of(std::initializer_list<std::pair<const char*, std::optional<std::string>>> fields) {
    Object o;
    for (const auto& [key, value] : fields)
        if (value) o.set(key, *value);
    std::ostringstream out;
    o.stringify(out);
    return out.str();
}

std::optional<std::string> option(const Context& ctx, const std::string& name) {
    auto it = ctx.options.find(name);
    if (it == ctx.options.end()) return std::nullopt;
    return it->second;
}

bool is_id(const std::string& text) {
    return !text.empty() && text.size() < 19 && text.find_first_not_of("0123456789") == std::string::npos;
}

} // namespace

namespace {

// One definition per command: what it takes and what it does (its --help).
struct RemoteCommand {
    const char* name;
    const char* summary;     ///< one line, in keyholder --help
    const char* description; ///< the paragraph of keyholder COMMAND --help
    const char* positional;  ///< "ID", "ENTRY", "NAME" or nullptr
    const char* positional_help;
};

const RemoteCommand kRemoteCommands[] = {
    {"whoami", "who the server signs you on as, and your roles",
     "Who the server signs you on as (identity, sign-on method) and your roles.", nullptr, nullptr},
    {"entries", "what you may request, and who approves it",
     "The entries you may request, their longest window, and who approves each stage.", nullptr, nullptr},
    {"request", "ask for a check-out (prints the request id)",
     "Asks for a check-out of ENTRY for DURATION (2h, 90m, 1h30m). The approvers are notified; the window starts "
     "when the last approval lands, or at --start (ISO 8601 with a zone, e.g. 2026-11-24T22:00:00Z).",
     "ENTRY", "the entry to check out (keyholder entries lists them)"},
    {"status", "your requests that are pending, approved or active",
     "Your requests that are pending, approved (scheduled) or active.", nullptr, nullptr},
    {"list", "requests: yours, those you may decide now, or everyone's",
     "Your requests; --approvable: those you may decide now; --all: everyone's (auditors and admins).", nullptr,
     nullptr},
    {"show", "one request, its decisions and its check-out",
     "One request: requester, reason, ticket, decisions, and its check-out with the planned and the actual end, "
     "the release and the take-back state. An extension says which request it extends.",
     "ID", "the request id"},
    {"approve", "approve the current stage of a request",
     "Approves the current stage of request ID. Your eligibility is checked against the directory now; nobody "
     "approves their own request. --for grants a shorter window than asked; the shortest grant of all approvals "
     "counts.",
     "ID", "the request id"},
    {"deny", "deny a request (this ends it)", "Denies request ID (this ends it).", "ID", "the request id"},
    {"cancel", "withdraw your pending or scheduled request", "Withdraws your pending or scheduled request ID.", "ID",
     "the request id"},
    {"credential", "the password of your active check-out (audited)",
     "Prints the password of your active check-out (request ID). Every retrieval is audited; the password is "
     "rotated when the window ends.",
     "ID", "the request id"},
    {"checkin", "end your window early; access is taken back", "Ends your window early; access is taken back at once.",
     "ID", "the request id"},
    {"extend", "ask for more time (approved like a request)",
     "Asks for more time on your active check-out (request ID); approved like a request.", "ID", "the request id"},
    {"revoke", "end someone's check-out (admins)", "Ends someone's check-out (request ID); keyholder admins only.",
     "ID", "the request id"},
    {"report", "download a compliance report as CSV (auditors)",
     "Downloads a compliance report as CSV (auditors and admins): checkout-requests, active-checkouts, approvals, "
     "audit. DATE: 2026-11-01 or an ISO 8601 time (--to is exclusive). Written to FILE (atomically: a temporary "
     "name, then renamed) or to standard output.",
     "NAME", "checkout-requests, active-checkouts, approvals or audit"},
};

constexpr const char* kRemoteFooter =
    "Signs on with your Kerberos ticket (HTTP Negotiate) unless --user NAME is given (Basic; the password is "
    "prompted, or one line on stdin).\n"
    "Exit status: 0 ok, 1 refused by the server, 2 usage, 3 server or network unavailable, 4 sign-on failed.";

} // namespace

bool is_remote(const std::string& command) {
    return std::any_of(std::begin(kRemoteCommands), std::end(kRemoteCommands),
                       [&](const RemoteCommand& c) { return command == c.name; });
}

void add_remote_commands(CLI::App& app, Invocation& call) {
    for (const auto& def : kRemoteCommands) {
        CLI::App* command = app.add_subcommand(def.name, def.summary);
        command->group("Commands that talk to keyholderd");
        command->footer(wrapped(std::string(def.description) + "\n\n" + kRemoteFooter));
        command->callback([&call, name = std::string(def.name)] { call.command = name; });
        if (def.positional != nullptr)
            command->add_option(def.positional, call.target, def.positional_help)->type_name("")->required();
        add_value(command, call, "server", "keyholderd, e.g. https://keyholder.example.com:8443", "URL")
            ->envname("KEYHOLDER_URL");
        add_value(command, call, "user", "sign on with Basic as NAME (default: Negotiate with your ticket)", "NAME");
        add_value(command, call, "ca-file", "CA certificate(s) for the server (default: the system's)", "FILE")
            ->envname("KEYHOLDER_CA_FILE");
        add_flag(command, call, "json", "print the server's JSON instead of text");
        const std::string name = def.name;
        if (name == "request") {
            add_value(command, call, "for", "how long, e.g. 2h, 90m, 1h30m", "DURATION")->required();
            add_value(command, call, "reason", "why (the policy may require it)");
            add_value(command, call, "ticket", "the change or incident ticket", "ID");
            add_value(command, call, "start", "a later start, ISO 8601 with a zone", "TIME");
        } else if (name == "list") {
            auto* approvable = add_flag(command, call, "approvable", "those you may decide now");
            auto* all = add_flag(command, call, "all", "everyone's (auditors and admins)");
            approvable->excludes(all);
            add_value(command, call, "state", "pending, approved, active, ended, denied, cancelled or lapsed", "STATE");
        } else if (name == "approve" || name == "deny") {
            add_value(command, call, "comment", "a comment, kept with the decision");
            if (name == "approve") add_value(command, call, "for", "grant a shorter window than asked", "DURATION");
        } else if (name == "extend") {
            add_value(command, call, "by", "how much more time, e.g. 30m", "DURATION")->required();
            add_value(command, call, "reason", "why");
        } else if (name == "revoke") {
            add_value(command, call, "reason", "why (kept in the audit trail)")->required();
        } else if (name == "report") {
            add_value(command, call, "from", "first day or time", "DATE");
            add_value(command, call, "to", "end (exclusive)", "DATE");
            add_value(command, call, "entry", "one entry", "ENTRY");
            add_value(command, call, "requester", "one requester (account or SID)", "USER");
            add_value(command, call, "approver", "requests that person decided", "USER");
            add_value(command, call, "state", "one state", "STATE");
            command
                ->add_option_function<std::string>(
                    "-o,--output", [&call](const std::string& v) { call.options["output"] = v; },
                    "write to FILE (default: standard output)")
                ->type_name("FILE");
        }
    }
}

int run_remote(const Invocation& call) {
    const std::string& command = call.command;
    const bool needs_id = command != "whoami" && command != "entries" && command != "status" && command != "list" &&
                          command != "request" && command != "report";
    if (needs_id && !is_id(call.target)) {
        std::cerr << "keyholder " << command << ": '" << call.target << "' is not a request id\n";
        return kUsage;
    }
    const auto* options = &call.options;
    Context ctx;
    ctx.options = *options;
    ctx.json = call.flag("json");
    ClientOptions client;
    if (auto server = option(ctx, "server")) client.server = *server;
    if (client.server.empty()) {
        std::cerr << "keyholder: give --server URL or set KEYHOLDER_URL\n";
        return kUsage;
    }
    while (!client.server.empty() && client.server.back() == '/')
        client.server.pop_back();
    client.ca_file = option(ctx, "ca-file").value_or("");
    if (auto user = option(ctx, "user")) {
        client.user = *user;
        client.password = platform::read_hidden("password for " + *user + ": ");
        if (!client.password || client.password->empty()) {
            std::cerr << "keyholder: no password given\n";
            return kUsage;
        }
    }
    ctx.client.emplace(client);
    const std::string& id = call.target;
    const std::string request_path = "/api/v1/requests/" + id;

    if (command == "whoami")
        return finish(ctx, ctx.client->get("/api/v1/me"), [](const Object::Ptr& o) {
            std::cout << text(o, "display_name") << " (" << text(o, "name") << ", " << text(o, "id")
                      << "), signed on with " << text(o, "signed_on_with") << "; roles:";
            auto roles = o->getArray("roles");
            for (size_t i = 0; i < roles->size(); ++i)
                std::cout << ' ' << roles->getElement<std::string>(static_cast<unsigned>(i));
            std::cout << (roles->size() == 0 ? " none\n" : "\n");
        });
    if (command == "entries")
        return finish(ctx, ctx.client->get("/api/v1/entries"), [](const Object::Ptr& o) {
            auto list = o->getArray("entries");
            if (list->size() == 0) std::cout << "no entries you may request\n";
            for (size_t i = 0; i < list->size(); ++i) {
                auto e = list->getObject(static_cast<unsigned>(i));
                auto policy = e->getObject("policy");
                std::cout << text(e, "name") << "  " << text(e, "display_name") << "  (up to "
                          << config::format_duration(
                                 std::chrono::seconds(policy->getValue<int64_t>("max_duration_seconds")))
                          << ")\n";
                auto stages = e->getArray("stages");
                for (size_t s = 0; stages && s < stages->size(); ++s) {
                    auto stage = stages->getObject(static_cast<unsigned>(s));
                    std::cout << "  stage " << text(stage, "stage") << ": " << text(stage, "approvals") << " of";
                    auto people = stage->getArray("approvers");
                    for (size_t p = 0; p < people->size(); ++p)
                        std::cout << (p ? ", " : " ")
                                  << text(people->getObject(static_cast<unsigned>(p)), "display_name");
                    std::cout << '\n';
                }
            }
        });
    if (command == "request") {
        const std::string body = json_of({{"entry", call.target},
                                          {"duration", option(ctx, "for")},
                                          {"reason", option(ctx, "reason").value_or("")},
                                          {"ticket", option(ctx, "ticket")},
                                          {"start", option(ctx, "start")}});
        return finish(ctx, ctx.client->post("/api/v1/requests", body), [](const Object::Ptr& o) {
            print_request(o, false);
            std::cout << "approvers have been notified; see: keyholder show " << text(o, "id") << '\n';
        });
    }
    if (command == "status")
        return finish(ctx, ctx.client->get("/api/v1/requests?mine=true&limit=200"), [](const Object::Ptr& o) {
            print_requests(o, {"pending", "approved", "active"});
        });
    if (command == "list") {
        std::string query = call.flag("approvable") ? "approvable=true" : call.flag("all") ? "mine=false" : "mine=true";
        if (auto state = option(ctx, "state")) query += "&state=" + *state;
        return finish(ctx, ctx.client->get("/api/v1/requests?" + query + "&limit=200"),
                      [](const Object::Ptr& o) { print_requests(o, {}); });
    }
    if (command == "report") {
        std::string query;
        for (const char* key : {"from", "to", "entry", "requester", "approver", "state"}) {
            if (auto value = option(ctx, key)) {
                std::string encoded;
                Poco::URI::encode(*value, "&=+#?/ ", encoded);
                query += (query.empty() ? "?" : "&") + std::string(key) + "=" + encoded;
            }
        }
        const std::string path = "/api/v1/reports/" + call.target + ".csv" + query;
        auto file = option(ctx, "output");
        if (!file || *file == "-") {
            auto answer = ctx.client->get_to(path, std::cout);
            return answer.status == 200 ? kOk : finish(ctx, answer, [](const Object::Ptr&) {});
        }
        // Streamed to a temporary file next to FILE, renamed to FILE once complete and
        // on disk; an error answer leaves nothing behind.
        struct Refused {};
        ApiAnswer answer;
        try {
            platform::write_file_atomically(
                *file,
                [&](std::ostream& out) {
                    answer = ctx.client->get_to(path, out);
                    if (answer.status != 200) throw Refused{};
                },
                std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                    std::filesystem::perms::group_read);
        } catch (const Refused&) {
            return finish(ctx, answer, [](const Object::Ptr&) {});
        } catch (const std::exception& e) {
            std::cerr << "keyholder: " << e.what() << '\n';
            return kFailed;
        }
        std::cerr << "report " << call.target << " written to " << *file << '\n';
        return kOk;
    }
    if (command == "show")
        return finish(ctx, ctx.client->get(request_path), [](const Object::Ptr& o) { print_request(o, true); });
    if (command == "approve" || command == "deny")
        return finish(ctx,
                      ctx.client->post(request_path + "/" + command, json_of({{"comment", option(ctx, "comment")},
                                                                              {"duration", option(ctx, "for")}})),
                      [](const Object::Ptr& o) { print_request(o, false); });
    if (command == "cancel")
        return finish(ctx, ctx.client->post(request_path + "/cancel", "{}"),
                      [](const Object::Ptr& o) { print_request(o, false); });

    // The rest act on the request's check-out.
    int exit_code = kOk;
    auto checkout = checkout_of(ctx, id, exit_code);
    if (!checkout) return exit_code;
    const std::string checkout_path = "/api/v1/checkouts/" + *checkout;
    if (command == "credential")
        return finish(ctx, ctx.client->get(checkout_path + "/credential"), [](const Object::Ptr& o) {
            std::cout << "account:     " << text(o, "account") << "\npassword:    " << text(o, "password")
                      << "\nvalid until: " << text(o, "valid_until") << " (rotated after)\n";
        });
    auto print_checkout = [](const Object::Ptr& o) {
        std::cout << "check-out " << text(o, "id") << ": " << text(o, "state");
        if (!text(o, "end_reason").empty()) std::cout << " (" << text(o, "end_reason") << ")";
        std::cout << ", take-back " << text(o, "takeback_state") << '\n';
    };
    if (command == "checkin") return finish(ctx, ctx.client->post(checkout_path + "/checkin", "{}"), print_checkout);
    if (command == "revoke") {
        return finish(ctx, ctx.client->post(checkout_path + "/revoke", json_of({{"reason", option(ctx, "reason")}})),
                      print_checkout);
    }
    // extend
    return finish(
        ctx,
        ctx.client->post(checkout_path + "/extend",
                         json_of({{"by", option(ctx, "by")}, {"reason", option(ctx, "reason").value_or("")}})),
        [](const Object::Ptr& o) {
            print_request(o, false);
            std::cout << "the extension needs approval like a request\n";
        });
}

} // namespace keyholder::cli
