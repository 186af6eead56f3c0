// The embedded CPython side of the hook: starts the interpreter once per process, calls
// kea_fanvil.kea_hook.entry, and converts values both ways. Knows nothing of Kea, so Python.h stays
// out of the Kea-facing headers.
#ifndef FANVIL_PYTHON_BRIDGE_H
#define FANVIL_PYTHON_BRIDGE_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "decision_table.h"
#include "inventory_buffer.h"

typedef struct _object PyObject;  // same declaration as Python's object.h

namespace fanvil {

using Bytes = std::vector<uint8_t>;

// Plain values taken from the query/response, the arguments of hook_entry.decide().
struct Request {
    Bytes mac;
    std::optional<Bytes> opt60;
    std::optional<Bytes> opt55;
    Bytes giaddr;
    Bytes yiaddr;
};

// A fully converted and checked decide() result: nothing is applied before this exists.
struct Decision {
    std::vector<std::pair<uint8_t, Bytes>> options;
    std::optional<Bytes> boot_file;
};

// Python raised (the text is "Type: message (file:line)").
struct PythonError : std::runtime_error { using std::runtime_error::runtime_error; };
// decide() returned something outside the contract.
struct BadDecision : std::runtime_error { using std::runtime_error::runtime_error; };
// hook_entry.load() rejected the policy; the text is the Python side's explanation.
struct PolicyInvalid : std::runtime_error { using std::runtime_error::runtime_error; };

// The bounds a decision is held to before anything is applied. Option data: one option's worth
// (RFC 2132): Kea would split longer data (RFC 3396, from 2.1.6), but Fanvil firmware is not
// known to join the parts, and the policy loader refuses such values already, so a longer one
// is a broken decision. (Kea 2.2 splits from 254 bytes already: tests/cpp/options_unittest.cc.)
// Boot file: the BOOTP `file` field. Inline, so that the unit tests check them without an
// interpreter.
constexpr size_t MAX_OPTION_DATA = 255;
constexpr size_t MAX_BOOT_FILE = 128;
// Neither 0 (pad) nor 255 (end).
constexpr bool isDecisionOptionCode(long code) { return code >= 1 && code <= 254; }
// Throws BadDecision when `size` is over `max`; `what` names the value ("option 43 data").
inline void checkDecisionSize(const std::string& what, size_t size, size_t max) {
    if (size > max) {
        throw BadDecision(what + " is " + std::to_string(size) + " bytes, more than " +
                          std::to_string(max));
    }
}

// Receives what the Python side reports on its own (the policy watcher's reloads, warnings):
// kind ("reloaded", "reload-failed", "warning", "inventory-error", "count"), path (or the
// statistic's name for "count"), text (the number for "count"). Called from a Python thread
// with the GIL held, so it must not call back into Python.
using LogSink = void (*)(const std::string& kind, const std::string& path,
                         const std::string& text);

// The C++ packet path as the Python side sees it ("decisions": "table"): hook_entry.load()
// gets a `publish` function that hands over each decision table (at load and after every
// reload), and a `drain` function the inventory writer empties the record buffer with.
class PacketPath {
public:
    virtual ~PacketPath() = default;
    // Parses and swaps in a table; throws std::exception when it is refused (Python then gets
    // ValueError with the text, and keeps the previous policy). Called with the GIL held.
    // `generation`: the Python side's number for this table, carried by the inventory records
    // of the decisions made from it (so the writer reads their indices in the right table).
    virtual void publish(const uint8_t* data, size_t size, uint32_t generation) = 0;
    // The buffer the packet path fills; nullptr when the inventory is off.
    virtual InventoryBuffer* inventory() = 0;
    // fanvil-decide: decides `request` with the table in force and calls `use` with the
    // decision and the table's generation while the table is held (the decision points into
    // it). False, without calling `use`: not one of our phones.
    using UseDecision = std::function<void(const TableDecision&, uint32_t generation)>;
    virtual bool evaluate(const TableRequest& request, const UseDecision& use) = 0;
};

// A control command's answer from the Python side: Kea's result code, its text, and its
// arguments as JSON ("" for none).
struct CommandAnswer {
    int result = 1;
    std::string text;
    std::string arguments;
};

class PythonPolicy {
public:
    // Starts the interpreter if this process has none yet (else keeps it), prepends
    // `extra_paths` to sys.path, imports kea_fanvil.kea_hook.entry and loads the policy, watching
    // it for changes every `reload_interval` seconds (0: never). Throws PolicyInvalid, or
    // std::runtime_error for everything else.
    // `inventory`: the SQLite file of phones seen; "" for none, nullopt for the default.
    // `path`: the C++ packet path the tables go to (nullptr: decide() is called per packet).
    // `server_name`: this server's name in a shared inventory ("": the host name).
    PythonPolicy(const std::string& python, const std::vector<std::string>& extra_paths,
                 const std::string& policy_path, double reload_interval,
                 const std::optional<std::string>& inventory, LogSink sink,
                 PacketPath* path = nullptr, const std::string& server_name = "");
    // Stops the watcher (waiting for a reload in progress) before the library can go away.
    ~PythonPolicy();
    PythonPolicy(const PythonPolicy&) = delete;
    PythonPolicy& operator=(const PythonPolicy&) = delete;

    // Safe from any thread. nullopt: not a matched phone. Throws PythonError or BadDecision.
    std::optional<Decision> decide(const Request& request) const;

    // The file watcher and the inventory writer: started once Kea is configured
    // (dhcp4_srv_configured), paused while Kea reconfigures (a critical section). Never throw.
    void startThreads();
    void pauseThreads();
    void resumeThreads();
    // A control command (kea_fanvil.kea_hook.entry.command); never throws.
    CommandAnswer command(const std::string& name, const std::string& arguments) const;

    // sys.executable of the running interpreter (may differ from the requested one when the
    // interpreter was started by an earlier load with another `python`).
    const std::string& executable() const { return executable_; }

    // True when the policy file was broken but a policy loaded earlier in this process (before
    // a config-reload) stays in force; detail() then says why.
    bool keptPrevious() const { return kept_; }
    // The loaded policy's summary, or why the previous one was kept.
    const std::string& detail() const { return detail_; }

private:
    void callQuietly(PyObject* fn) const;

    PyObject* decide_ = nullptr;
    PyObject* stop_ = nullptr;
    // Optional in an entry module of one's own (the python-path parameter): absent, the
    // threads start inside load() and the commands answer that they are not supported.
    PyObject* start_ = nullptr;
    PyObject* pause_ = nullptr;
    PyObject* resume_ = nullptr;
    PyObject* command_ = nullptr;
    std::string executable_;
    bool kept_ = false;
    std::string detail_;
};

} // namespace fanvil

#endif // FANVIL_PYTHON_BRIDGE_H
