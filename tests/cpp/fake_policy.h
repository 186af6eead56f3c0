// fake_policy.cc is linked instead of python_bridge.cc: a PythonPolicy without an interpreter.
// Tests script what decide() returns or throws, and read back what FanvilImpl handed over.
#ifndef FANVIL_FAKE_POLICY_H
#define FANVIL_FAKE_POLICY_H

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "python_bridge.h"

namespace fanvil::fake {

// The arguments of the last PythonPolicy constructed.
struct Loaded {
    std::string python;
    std::vector<std::string> extra_paths;
    std::string policy_path;
    double reload_interval = -1;
    std::optional<std::string> inventory;
    LogSink sink = nullptr;
    PacketPath* path = nullptr;
    std::string server_name;
};
extern std::optional<Loaded> loaded;

// What decide() does with each request; unset: "not a phone" (nullopt).
extern std::function<std::optional<Decision>(const Request&)> decide;
// Every request decide() was called with, in order.
extern std::vector<Request> requests;
// The decision table the fake load publishes to a packet path (as entry.load() would).
extern std::optional<std::vector<uint8_t>> table;
// What the thread and command calls saw, and the answer command() gives.
extern int started;
extern int paused;
extern int resumed;
extern std::vector<std::pair<std::string, std::string>> commands;
extern CommandAnswer answer;
// The generation it publishes the table as.
constexpr uint32_t GENERATION = 7;

// Forgets all of the above; each fixture starts with it.
void reset();

} // namespace fanvil::fake

#endif // FANVIL_FAKE_POLICY_H
