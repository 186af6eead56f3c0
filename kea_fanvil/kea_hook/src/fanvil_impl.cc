#include "fanvil_impl.h"

#include <algorithm>

#include <cc/command_interpreter.h>
#include <dhcp/dhcp4.h>
#include <hooks/hooks.h>
#include <dhcp/option_int_array.h>
#include <dhcp/option_string.h>
#include <exceptions/exceptions.h>
#include <stats/stats_mgr.h>

#include "fanvil_log.h"

using namespace isc::data;
using namespace isc::dhcp;

namespace fanvil {
namespace {

// As kea_fanvil.kea_hook.inventory.BUFFER_LIMIT: records waiting for the writer.
const size_t INVENTORY_BUFFER_LIMIT = 20000;

// StatsMgr guards its state with a mutex (Kea >= 1.8), so worker threads may add directly.
const char* const STAT_MATCHED = "pkt4-fanvil-matched";
const char* const STAT_CHANGED = "pkt4-fanvil-changed";
const char* const STAT_ERRORS = "pkt4-fanvil-errors";
// Responses decided by calling Python ("decisions": "python"); stays 0 on the table path,
// which is how a running server shows that no packet takes the GIL.
const char* const STAT_PYTHON = "pkt4-fanvil-python-decisions";
const char* const STAT_RELOADS = "fanvil-policy-reloads";
const char* const STAT_RELOAD_FAILURES = "fanvil-policy-reload-failures";
const char* const STAT_INVENTORY_RECORDED = "fanvil-inventory-recorded";
const char* const STAT_INVENTORY_DROPPED = "fanvil-inventory-dropped";

// The names as std::string once: building one per call cost a heap allocation per packet.
const std::string MATCHED_NAME = STAT_MATCHED;
const std::string CHANGED_NAME = STAT_CHANGED;
const std::string ERRORS_NAME = STAT_ERRORS;
const std::string PYTHON_NAME = STAT_PYTHON;

void bump(const std::string& name) {
    isc::stats::StatsMgr::instance().addValue(name, int64_t(1));
}

void bump(const char* name) {
    bump(std::string(name));  // the rare ones: reloads and their failures
}

std::string stringParam(const ConstElementPtr& value, const std::string& name) {
    if (value->getType() != Element::string) {
        isc_throw(isc::BadValue, "'" << name << "' must be a string");
    }
    return value->stringValue();
}

std::optional<Bytes> optionData(Pkt4& pkt, uint16_t code) {
    OptionPtr opt = pkt.getOption(code);
    // toBinary, not getData: typed options (55 is a uint8 array) keep their value elsewhere.
    if (opt) return opt->toBinary(false);
    return std::nullopt;
}

// The data of the query's option `code`, without a copy: {nullptr, 0} when absent, and a
// non-null pointer for an empty option (present counts, even empty). Kea's Pkt::getOption
// clones the option when the packet is handed to callouts (copy_retrieved_options_, so that a
// callout's changes stay its own) and toBinary() packs into two new buffers: about 2,000
// instructions per packet for a value this callout only reads. `Pkt::options_` is a public
// member in Kea 2.2, 2.6 and 3.0 (pkt.h: "public ... OptionCollection options_"), read here
// and never changed. The bytes are what toBinary(false) gives: a plain Option (and Kea's
// OptionString for option 60) keeps them in getData(), option 55 is an OptionUint8Array whose
// values are the bytes; anything else (an option with sub-options) is packed into `scratch`.
ByteSpan queryOption(const Pkt4& pkt, uint16_t code, Bytes& scratch) {
    static const uint8_t empty = 0;
    auto found = pkt.options_.find(code);
    if (found == pkt.options_.end() || !found->second) return ByteSpan{};
    const Option& opt = *found->second;
    const std::vector<uint8_t>* bytes = nullptr;
    if (auto array = dynamic_cast<const OptionUint8Array*>(&opt)) {
        bytes = &array->getValues();
    } else if (opt.getOptions().empty() && typeid(opt) == typeid(Option)) {
        bytes = &opt.getData();
    } else if (opt.getOptions().empty() && dynamic_cast<const OptionString*>(&opt)) {
        bytes = &opt.getData();
    } else {
        scratch = opt.toBinary(false);
        bytes = &scratch;
    }
    return ByteSpan{bytes->empty() ? &empty : bytes->data(), bytes->size()};
}

// Reports from the Python side's threads (policy watcher, inventory writer; GIL held).
void logFromPython(const std::string& kind, const std::string& path, const std::string& text) {
    if (kind == "count") {
        // Only our own statistics: the Python side must not be able to touch Kea's.
        if (path == STAT_INVENTORY_RECORDED || path == STAT_INVENTORY_DROPPED) {
            isc::stats::StatsMgr::instance().addValue(path, int64_t(std::stoll(text)));
        }
    } else if (kind == "inventory-error") {
        LOG_ERROR(fanvil_logger, FANVIL_INVENTORY_ERROR)
            .arg(maskSecrets(path))
            .arg(maskSecrets(text));
    } else if (kind == "reloaded") {
        bump(STAT_RELOADS);
        LOG_INFO(fanvil_logger, FANVIL_POLICY_RELOADED).arg(path).arg(maskSecrets(text));
    } else if (kind == "reload-failed") {
        bump(STAT_RELOAD_FAILURES);
        LOG_ERROR(fanvil_logger, FANVIL_POLICY_RELOAD_FAILED).arg(path).arg(maskSecrets(text));
    } else {
        LOG_WARN(fanvil_logger, FANVIL_POLICY_WARNING).arg(path).arg(maskSecrets(text));
    }
}

} // namespace

std::string maskSecrets(std::string text) {
    size_t pos = 0;
    while ((pos = text.find("://", pos)) != std::string::npos) {
        size_t start = pos + 3;
        size_t end = text.find_first_of("/?# \t\n'\"", start);
        if (end == std::string::npos) end = text.size();
        size_t at = text.rfind('@', end);
        size_t colon = text.find(':', start);
        if (at != std::string::npos && at >= start && colon < at && at > colon + 1) {
            text.replace(colon + 1, at - colon - 1, "****");
            end = colon + 6;
        }
        pos = end;
    }
    return text;
}

Config Config::parse(const ConstElementPtr& params) {
    if (!params || params->getType() != Element::map) {
        isc_throw(isc::BadValue, "parameters with at least 'policy' are required");
    }
    Config c;
    for (const auto& [name, value] : params->mapValue()) {
        if (name == "policy") {
            c.policy = stringParam(value, name);
        } else if (name == "python") {
            c.python = stringParam(value, name);
        } else if (name == "python-path") {
            if (value->getType() == Element::string) {
                c.python_path.push_back(value->stringValue());
            } else if (value->getType() == Element::list) {
                for (const auto& entry : value->listValue()) {
                    c.python_path.push_back(stringParam(entry, "python-path entries"));
                }
            } else {
                isc_throw(isc::BadValue, "'python-path' must be a string or a list of strings");
            }
        } else if (name == "error-log-interval") {
            if (value->getType() != Element::integer || value->intValue() < 0) {
                isc_throw(isc::BadValue, "'error-log-interval' must be an integer >= 0 (seconds)");
            }
            c.error_log_interval = static_cast<long>(value->intValue());
        } else if (name == "policy-reload-interval") {
            double seconds = value->getType() == Element::integer ? double(value->intValue())
                             : value->getType() == Element::real  ? value->doubleValue()
                                                                  : -1.0;
            if (!(seconds >= 0.0 && seconds <= 86400.0)) {
                isc_throw(isc::BadValue, "'policy-reload-interval' must be a number of seconds "
                          "from 0 (no reloading) to 86400");
            }
            c.policy_reload_interval = seconds;
        } else if (name == "inventory") {
            c.inventory = stringParam(value, name);
        } else if (name == "server-name") {
            c.server_name = stringParam(value, name);
            bool printable = std::all_of(c.server_name.begin(), c.server_name.end(),
                                         [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
            if (c.server_name.empty() || c.server_name.size() > 64 || !printable) {
                isc_throw(isc::BadValue, "'server-name' must be 1 to 64 printable ASCII "
                          "characters without spaces");
            }
        } else if (name == "decisions") {
            std::string how = stringParam(value, name);
            if (how != "table" && how != "python") {
                isc_throw(isc::BadValue, "'decisions' must be \"table\" or \"python\"");
            }
            c.table = how == "table";
        } else {
            // A typo ("polciy") would otherwise be silently ignored.
            isc_throw(isc::BadValue, "unknown parameter '" << name << "' (known: policy, python, "
                      "python-path, error-log-interval, policy-reload-interval, inventory, "
                      "server-name, decisions)");
        }
    }
    if (c.policy.empty()) {
        isc_throw(isc::BadValue, "'policy' (the path of the policy file) is required");
    }
    if (c.python.empty()) isc_throw(isc::BadValue, "'python' must not be empty");
    return c;
}

std::optional<std::string> ErrorThrottle::admit(Kind kind,
                                                std::chrono::steady_clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    Slot& s = slots_[kind];
    if (s.last && now - *s.last < interval_) {
        ++s.suppressed;
        return std::nullopt;
    }
    std::string suffix;
    if (s.suppressed) {
        suffix = " (" + std::to_string(s.suppressed) + " more since the last report)";
    }
    s.last = now;
    s.suppressed = 0;
    return suffix;
}

FanvilImpl::FanvilImpl(const Config& config)
    : inventory_(config.table && !(config.inventory && config.inventory->empty())
                     ? new InventoryBuffer(INVENTORY_BUFFER_LIMIT)
                     : nullptr),
      table_mode_(config.table),
      policy_(config.python, config.python_path, config.policy, config.policy_reload_interval,
              config.inventory, logFromPython, config.table ? this : nullptr,
              config.server_name),
      throttle_(config.error_log_interval) {
    if (table_mode_ && !std::atomic_load(&table_)) {  // the Python side publishes in load()
        throw std::runtime_error("kea_fanvil.kea_hook.entry.load() published no decision table");
    }
    auto& stats = isc::stats::StatsMgr::instance();
    for (const char* name : {STAT_MATCHED, STAT_CHANGED, STAT_ERRORS, STAT_PYTHON}) {
        stats.setValue(name, int64_t(0));
    }
    // Not zeroed: the watcher may already have reported before this line. Started at 0 only
    // if absent, so they are listed from the start and survive nothing but a restart.
    for (const char* name : {STAT_RELOADS, STAT_RELOAD_FAILURES, STAT_INVENTORY_RECORDED,
                             STAT_INVENTORY_DROPPED}) {
        if (!stats.getObservation(name)) stats.setValue(name, int64_t(0));
    }
}

Request FanvilImpl::marshal(Pkt4& query, const Pkt4& response) {
    Request r;
    if (HWAddrPtr hw = query.getHWAddr()) r.mac = hw->hwaddr_;
    r.opt60 = optionData(query, DHO_VENDOR_CLASS_IDENTIFIER);
    r.opt55 = optionData(query, DHO_DHCP_PARAMETER_REQUEST_LIST);
    r.giaddr = query.getGiaddr().toBytes();
    r.yiaddr = response.getYiaddr().toBytes();
    return r;
}

void FanvilImpl::apply(const Decision& decision, Pkt4& response) {
    for (const auto& [code, data] : decision.options) {
        // A decision replaces whatever Kea's configuration put there; a packet may hold
        // several instances of a code, so delete until none is left.
        while (response.delOption(code)) {}
        response.addOption(OptionPtr(new Option(Option::V4, code, data)));
    }
    if (decision.boot_file) {
        response.setFile(decision.boot_file->data(), decision.boot_file->size());
    }
}

void FanvilImpl::publish(const uint8_t* data, size_t size, uint32_t generation) {
    auto published = std::make_shared<Published>();
    published->table = DecisionTable::parse(data, size);
    published->generation = generation;
    published->table->forEachOption([&](uint8_t code, const uint8_t* value, size_t length) {
        published->options.emplace(
            value, OptionPtr(new Option(Option::V4, code, OptionBuffer(value, value + length))));
    });
    published->boots.resize(published->table->boots());
    std::atomic_store(&table_, std::shared_ptr<const Published>(std::move(published)));
}

OptionPtr FanvilImpl::Published::bootOption(uint32_t index, const ByteSpan& data) const {
    OptionPtr* slot = &boots[index];
    OptionPtr built = boost::atomic_load(slot);
    if (built) return built;
    OptionPtr fresh(new Option(Option::V4, DHO_BOOT_FILE_NAME,
                               OptionBuffer(data.data, data.data + data.size)));
    OptionPtr expected;
    // Lost the race: another thread stored an equal option first, and `expected` is it.
    return boost::atomic_compare_exchange(slot, &expected, fresh) ? fresh : expected;
}

bool FanvilImpl::decideFromTable(Pkt4& query, Pkt4& response) {
    std::shared_ptr<const Published> published = std::atomic_load(&table_);
    if (!published) return false;
    HWAddrPtr hw = query.getHWAddr();
    Bytes scratch60, scratch55;
    TableRequest request;
    if (hw) request.mac = {hw->hwaddr_.data(), hw->hwaddr_.size()};
    request.vendor_class = queryOption(query, DHO_VENDOR_CLASS_IDENTIFIER, scratch60);
    request.prl = queryOption(query, DHO_DHCP_PARAMETER_REQUEST_LIST, scratch55);
    request.giaddr = query.getGiaddr().toUint32();
    request.yiaddr = response.getYiaddr().toUint32();
    TableDecision decision;
    if (!published->table->decide(request, decision)) return false;
    bump(MATCHED_NAME);
    if (inventory_) {
        InventoryRecord record;
        record.time = std::chrono::duration<double>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
        record.generation = published->generation;
        record.giaddr = request.giaddr;  // read once, above
        record.yiaddr = request.yiaddr;
        record.url = decision.url;
        record.boot = decision.boot;
        record.site = decision.site;
        record.matched = static_cast<uint8_t>(decision.matched);
        if (hw) record.setMac(hw->hwaddr_.data(), hw->hwaddr_.size());
        if (request.vendor_class.data) {
            record.setOpt60(request.vendor_class.data, request.vendor_class.size);
        }
        inventory_->push(record);
    }
    if (decision.count == 0 && !decision.has_file) return true;
    for (const TableOption& option : decision) {
        // As apply(): the decision replaces every instance Kea's configuration put there.
        while (response.delOption(option.code)) {}
        OptionPtr built;
        if (option.code == DHO_BOOT_FILE_NAME && decision.boot != DecisionTable::NONE &&
            option.data == decision.file.data) {
            built = published->bootOption(decision.boot, decision.file);
        } else {
            auto found = published->options.find(option.data);
            built = found != published->options.end()
                        ? found->second
                        : OptionPtr(new Option(Option::V4, option.code,
                                               OptionBuffer(option.data,
                                                            option.data + option.size)));
        }
        response.addOption(built);
    }
    if (decision.has_file) response.setFile(decision.file.data, decision.file.size);
    bump(CHANGED_NAME);
    return true;
}

bool FanvilImpl::evaluate(const TableRequest& request, const UseDecision& use) {
    std::shared_ptr<const Published> published = std::atomic_load(&table_);
    TableDecision decision;
    if (!published || !published->table->decide(request, decision)) return false;
    use(decision, published->generation);  // while `published` holds the table
    return true;
}

ConstElementPtr FanvilImpl::command(const std::string& name, const ConstElementPtr& arguments) {
    CommandAnswer answer = policy_.command(name, arguments ? arguments->str() : std::string());
    ElementPtr body;
    if (!answer.arguments.empty()) body = Element::fromJSON(answer.arguments);
    if (name == "fanvil-status" && body && body->getType() == Element::map) {
        // What only this side knows: Kea's version (the headers built against, which Kea
        // checks against itself at load) and the packet path's own counters.
        int v = KEA_HOOKS_VERSION;
        body->set("kea-version", Element::create(std::to_string(v / 10000) + "." +
                                                 std::to_string(v / 100 % 100) + "." +
                                                 std::to_string(v % 100)));
        ElementPtr packets = Element::createMap();
        auto& stats = isc::stats::StatsMgr::instance();
        for (const char* stat : {STAT_MATCHED, STAT_CHANGED, STAT_ERRORS, STAT_PYTHON}) {
            isc::stats::ObservationPtr seen = stats.getObservation(stat);
            packets->set(stat, Element::create(seen ? seen->getInteger().first : int64_t(0)));
        }
        body->set("packets", packets);
    }
    return isc::config::createAnswer(answer.result, answer.text, body);
}

void FanvilImpl::process(const Pkt4Ptr& query, const Pkt4Ptr& response) {
    ErrorThrottle::Kind kind = ErrorThrottle::PACKET;
    std::string what;
    try {
        uint8_t type = response->getType();
        if (type != DHCPOFFER && type != DHCPACK) return;
        if (table_mode_) {
            decideFromTable(*query, *response);
            return;
        }
        bump(PYTHON_NAME);
        std::optional<Decision> decision = policy_.decide(marshal(*query, *response));
        if (!decision) return;
        bump(MATCHED_NAME);
        if (decision->options.empty() && !decision->boot_file) return;
        apply(*decision, *response);
        bump(CHANGED_NAME);
        return;
    } catch (const PythonError& ex) {
        kind = ErrorThrottle::DECIDE;
        what = ex.what();
    } catch (const BadDecision& ex) {
        kind = ErrorThrottle::DECISION;
        what = ex.what();
    } catch (const std::exception& ex) {
        what = ex.what();
    } catch (...) {
        what = "unknown exception";
    }
    try {
        report(kind, query->getLabel(), what);
    } catch (...) {
        // Reporting must not be the thing that lets an exception escape into Kea.
    }
}

void FanvilImpl::report(ErrorThrottle::Kind kind, const std::string& label,
                        const std::string& what) {
    bump(ERRORS_NAME);
    std::optional<std::string> suffix = throttle_.admit(kind);
    if (!suffix) return;
    const isc::log::MessageID& id = kind == ErrorThrottle::DECIDE   ? FANVIL_DECIDE_FAILED
                                    : kind == ErrorThrottle::DECISION ? FANVIL_BAD_DECISION
                                                                      : FANVIL_PACKET_ERROR;
    LOG_ERROR(fanvil_logger, id).arg(label).arg(maskSecrets(what)).arg(*suffix);
}

} // namespace fanvil
