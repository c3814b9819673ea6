// Metrics: what /metrics shows, in the Prometheus text format (version 0.0.4).
// Counters and the request-latency histogram live here; gauges are read when
// scraped (callbacks into the store). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace keyholder::http {

class Metrics {
public:
    Metrics();
    /// observe_request: one answered request (route is the pattern, not the path,
    /// so ids do not explode the label set).
    void observe_request(const std::string& route, const std::string& method, int status, double seconds);
    /// add: a counter family `name` (ending in _total) with one label set, e.g.
    /// add("keyholder_directory_errors_total", "...", "kind=\"unavailable\"").
    void add(const std::string& name, const std::string& help, const std::string& labels = {}, double by = 1);
    /// gauge: a value read at scrape time.
    void gauge(const std::string& name, const std::string& help, std::function<double()> read);
    [[nodiscard]] std::string render() const;
    /// value: a counter's current value (tests).
    [[nodiscard]] double value(const std::string& name, const std::string& labels = {}) const;

private:
    struct Family {
        std::string help;
        std::map<std::string, double> values; ///< label set -> value
    };
    struct Histogram {
        std::vector<uint64_t> buckets;
        uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mutex_;
    std::map<std::string, Family> counters_;
    std::map<std::string, Histogram> latency_; ///< by route
    std::map<std::string, std::pair<std::string, std::function<double()>>> gauges_;
};

/// label_value: escapes a Prometheus label value (backslash, quote, newline).
std::string label_value(const std::string& value);

} // namespace keyholder::http
