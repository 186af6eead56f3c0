// FanvilImpl: what the callouts hand off to. Parses the hook parameters, owns the Python policy,
// turns a query/response pair into plain values and applies the decision to the response.
#ifndef FANVIL_IMPL_H
#define FANVIL_IMPL_H

#include <cc/data.h>
#include <dhcp/pkt4.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "decision_table.h"
#include "inventory_buffer.h"
#include "python_bridge.h"

namespace fanvil {

#ifndef FANVIL_DEFAULT_PYTHON  // normally the venv interpreter, set by the Makefile
#define FANVIL_DEFAULT_PYTHON "/usr/bin/python3"
#endif

// The validated hook parameters:
//   policy              path of the policy file, handed to hook_entry.load() (required)
//   python              interpreter whose venv to embed (only the first load in a process counts)
//   python-path         string or list of strings prepended to sys.path (tests, development)
//   error-log-interval  seconds between two log lines of the same kind of per-packet failure
//   policy-reload-interval  seconds between two checks of the policy files for changes (0: off)
//   inventory           SQLite file or PostgreSQL URI recording the phones seen ("" turns it
//                       off; absent: the default of kea_fanvil.kea_hook.inventory)
//   server-name         this server's name in a shared inventory (default: the host name)
//   decisions           "table" (default): decide in C++ from the policy's decision table, no
//                       Python per packet; "python": call kea_fanvil.kea_hook.entry.decide()
//                       for every response (for a custom entry module, and diagnosis)
struct Config {
    std::string policy;
    std::string python = FANVIL_DEFAULT_PYTHON;
    std::vector<std::string> python_path;
    long error_log_interval = 60;  // seconds; 0 logs every failure
    double policy_reload_interval = 5.0;
    std::optional<std::string> inventory;
    std::string server_name;  // "": the Python side uses the host name
    bool table = true;  // "decisions": "table"

    // Throws isc::BadValue naming the offending parameter.
    static Config parse(const isc::data::ConstElementPtr& params);
};

// At most one log line per kind of failure per interval, so a broken policy cannot flood the
// log at thousands of packets per second; the line says how many were suppressed.
class ErrorThrottle {
public:
    enum Kind { DECIDE, DECISION, PACKET, KINDS };
    explicit ErrorThrottle(long interval_seconds) : interval_(interval_seconds) {}
    // nullopt: stay quiet; otherwise the suffix for the log line ("" or the suppressed count).
    // `now` is a parameter so the unit tests can drive the clock; the hook passes none.
    std::optional<std::string> admit(
        Kind kind, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
private:
    struct Slot {
        std::optional<std::chrono::steady_clock::time_point> last;
        uint64_t suppressed = 0;
    };
    std::chrono::seconds interval_;
    std::mutex mutex_;
    std::array<Slot, KINDS> slots_;
};

class FanvilImpl : public PacketPath {
public:
    // Starts Python if needed and loads the policy; throws PolicyInvalid or any other
    // std::exception on failure. Zeroes the statistics so they are listed from the start.
    explicit FanvilImpl(const Config& config);

    // Never throws; on any failure the response is left exactly as Kea built it.
    void process(const isc::dhcp::Pkt4Ptr& query, const isc::dhcp::Pkt4Ptr& response);

    const std::string& pythonExecutable() const { return policy_.executable(); }
    // See PythonPolicy::keptPrevious() and detail().
    bool keptPrevious() const { return policy_.keptPrevious(); }
    const std::string& policyDetail() const { return policy_.detail(); }

    // PacketPath: called by the Python side (GIL held) at load and after each reload.
    void publish(const uint8_t* data, size_t size, uint32_t generation) override;
    InventoryBuffer* inventory() override { return inventory_.get(); }
    bool evaluate(const TableRequest& request, const UseDecision& use) override;

    // Kea's thread rules: the Python side's threads start once Kea is configured and pause
    // while it reconfigures (fanvil_callouts.cc).
    void startThreads() { policy_.startThreads(); }
    void pauseThreads() { policy_.pauseThreads(); }
    void resumeThreads() { policy_.resumeThreads(); }

    // A control command (fanvil-status, fanvil-decide, fanvil-policy-reload,
    // fanvil-devices-get) answered in Kea's format; throws only what Kea's JSON parser may.
    isc::data::ConstElementPtr command(const std::string& name,
                                       const isc::data::ConstElementPtr& arguments);

private:
    static Request marshal(isc::dhcp::Pkt4& query, const isc::dhcp::Pkt4& response);
    static void apply(const Decision& decision, isc::dhcp::Pkt4& response);
    // The table path: true when the client is one of our phones.
    bool decideFromTable(isc::dhcp::Pkt4& query, isc::dhcp::Pkt4& response);
    void report(ErrorThrottle::Kind kind, const std::string& label, const std::string& what);

    // A published table with the Kea options its decisions add, built once: responses share
    // them as they share Kea's configured options, instead of allocating new ones per packet.
    // The URLs' options (a handful) are built at publish time, by the option data's address in
    // the table; a boot file's option 67 when it is first sent (one per device at worst: built
    // up front, 100,000 of them cost about 30 MiB).
    struct Published {
        std::shared_ptr<const DecisionTable> table;
        std::unordered_map<const uint8_t*, isc::dhcp::OptionPtr> options;
        // One per boot file; filled by whichever thread sends it first (boost::atomic_* on
        // each slot: threads may race to build one, and one of the equal copies wins).
        mutable std::vector<isc::dhcp::OptionPtr> boots;
        uint32_t generation = 0;
        isc::dhcp::OptionPtr bootOption(uint32_t index, const ByteSpan& data) const;
    };
    // Constructed before policy_, whose load publishes the first table into them. Requests in
    // flight keep the table they started with (a shared_ptr copy); a reload swaps the pointer
    // with std::atomic_store, so no packet waits for a lock to decide.
    std::shared_ptr<const Published> table_;
    std::unique_ptr<InventoryBuffer> inventory_;
    bool table_mode_;
    PythonPolicy policy_;
    ErrorThrottle throttle_;
};

using FanvilImplPtr = std::shared_ptr<FanvilImpl>;

// Masks the password of every URL in `text` ("user:****@"), for lines that quote a URL from
// outside the Python side's own masking (exception texts). Mirrors kea_fanvil.redact.mask.
std::string maskSecrets(std::string text);

} // namespace fanvil

#endif // FANVIL_IMPL_H
