#include "keyholder/http/metrics.h"

#include <array>
#include <iomanip>
#include <sstream>

namespace keyholder::http {
namespace {

constexpr std::array<double, 11> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

std::string number(double value) {
    std::ostringstream out;
    out << std::setprecision(15) << value;
    return out.str();
}

} // namespace

std::string label_value(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"')
            out += std::string("\\") + c;
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

Metrics::Metrics() = default;

void Metrics::observe_request(const std::string& route, const std::string& method, int status, double seconds) {
    std::string labels;
    labels.reserve(route.size() + method.size() + 40);
    labels.append("route=\"").append(label_value(route)).append("\",method=\"").append(label_value(method));
    labels.append("\",status=\"").append(std::to_string(status)).append("\"");
    std::lock_guard lock(mutex_); // one lock for the counter and the histogram
    auto& family = counters_["keyholder_http_requests_total"];
    if (family.help.empty()) family.help = "HTTP requests answered, by route, method and status";
    family.values[labels] += 1;
    auto& histogram = latency_[route];
    if (histogram.buckets.empty()) histogram.buckets.assign(kBuckets.size(), 0);
    for (size_t i = 0; i < kBuckets.size(); ++i)
        if (seconds <= kBuckets[i]) ++histogram.buckets[i];
    ++histogram.count;
    histogram.sum += seconds;
}

void Metrics::add(const std::string& name, const std::string& help, const std::string& labels, double by) {
    std::lock_guard lock(mutex_);
    auto& family = counters_[name];
    if (family.help.empty()) family.help = help;
    family.values[labels] += by;
}

void Metrics::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
    std::lock_guard lock(mutex_);
    gauges_[name] = {help, std::move(read)};
}

double Metrics::value(const std::string& name, const std::string& labels) const {
    std::lock_guard lock(mutex_);
    auto family = counters_.find(name);
    if (family == counters_.end()) return 0;
    auto value = family->second.values.find(labels);
    return value == family->second.values.end() ? 0 : value->second;
}

std::string Metrics::render() const {
    // Gauges first, outside the lock: their callbacks may take time (store reads).
    std::map<std::string, std::pair<std::string, std::function<double()>>> gauges;
    {
        std::lock_guard lock(mutex_);
        gauges = gauges_;
    }
    std::ostringstream out;
    for (const auto& [name, gauge] : gauges) {
        double value = 0;
        try {
            value = gauge.second();
        } catch (const std::exception&) {
            continue; // a gauge that cannot be read is left out rather than reported wrong
        }
        out << "# HELP " << name << ' ' << gauge.first << "\n# TYPE " << name << " gauge\n"
            << name << ' ' << number(value) << '\n';
    }
    std::lock_guard lock(mutex_);
    for (const auto& [name, family] : counters_) {
        out << "# HELP " << name << ' ' << family.help << "\n# TYPE " << name << " counter\n";
        for (const auto& [labels, value] : family.values)
            out << name << (labels.empty() ? "" : "{" + labels + "}") << ' ' << number(value) << '\n';
    }
    const std::string h = "keyholder_http_request_duration_seconds";
    out << "# HELP " << h << " Time from routing to the last byte of the answer, by route\n# TYPE " << h
        << " histogram\n";
    for (const auto& [route, histogram] : latency_) {
        const std::string label = "route=\"" + label_value(route) + "\"";
        for (size_t i = 0; i < kBuckets.size(); ++i)
            out << h << "_bucket{" << label << ",le=\"" << number(kBuckets[i]) << "\"} " << histogram.buckets[i]
                << '\n';
        out << h << "_bucket{" << label << ",le=\"+Inf\"} " << histogram.count << '\n';
        out << h << "_sum{" << label << "} " << number(histogram.sum) << '\n';
        out << h << "_count{" << label << "} " << histogram.count << '\n';
    }
    return out.str();
}

} // namespace keyholder::http
