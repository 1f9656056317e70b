#include "kafka.hpp"

namespace ks::kafka {

Result<ConfPtr> make_conf(const std::vector<Property>& defaults, const std::vector<ConfigEntry>& site,
                          const std::vector<Property>& forced) {
    ConfPtr conf(rd_kafka_conf_new());
    char err[512];
    for (const auto& [k, v] : defaults)
        if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
            return fail("librdkafka default " + k + "=" + v + ": " + err);
    for (const auto& e : site) {
        for (const auto& [k, v] : forced)
            if (k == e.key && v != e.value)
                return fail(e.origin + ": " + e.key + " must be " + v + " (kafka-stream relies on it)");
        if (rd_kafka_conf_set(conf.get(), e.key.c_str(), e.value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
            return fail(e.origin + ": " + err);
    }
    for (const auto& [k, v] : forced)
        if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
            return fail("librdkafka " + k + "=" + v + ": " + err);
    return conf;
}

wire::Headers to_wire_headers(const rd_kafka_headers_t* headers) {
    wire::Headers out;
    if (!headers) return out;
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
        out.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : std::string());
    return out;
}

HeadersPtr to_kafka_headers(const wire::Headers& headers) {
    HeadersPtr h(rd_kafka_headers_new(headers.size()));
    for (const auto& [k, v] : headers)
        rd_kafka_header_add(h.get(), k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
    return h;
}

bool valid_topic_name(std::string_view topic) {
    if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") return false;
    for (char c : topic)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
    return true;
}

std::string conf_value(const rd_kafka_conf_t* conf, const char* key) {
    char buf[1024];
    std::size_t size = sizeof buf;
    if (rd_kafka_conf_get(conf, key, buf, &size) != RD_KAFKA_CONF_OK) return {};
    return buf;
}

}  // namespace ks::kafka
