// File created from fanvil_messages.mes

#include <cstddef>
#include <log/message_types.h>
#include <log/message_initializer.h>

namespace fanvil {

extern const isc::log::MessageID FANVIL_BAD_DECISION = "FANVIL_BAD_DECISION";
extern const isc::log::MessageID FANVIL_DECIDE_FAILED = "FANVIL_DECIDE_FAILED";
extern const isc::log::MessageID FANVIL_INVENTORY_ERROR = "FANVIL_INVENTORY_ERROR";
extern const isc::log::MessageID FANVIL_LOADED = "FANVIL_LOADED";
extern const isc::log::MessageID FANVIL_LOAD_ERROR = "FANVIL_LOAD_ERROR";
extern const isc::log::MessageID FANVIL_PACKET_ERROR = "FANVIL_PACKET_ERROR";
extern const isc::log::MessageID FANVIL_POLICY_INVALID = "FANVIL_POLICY_INVALID";
extern const isc::log::MessageID FANVIL_POLICY_KEPT = "FANVIL_POLICY_KEPT";
extern const isc::log::MessageID FANVIL_POLICY_RELOADED = "FANVIL_POLICY_RELOADED";
extern const isc::log::MessageID FANVIL_POLICY_RELOAD_FAILED = "FANVIL_POLICY_RELOAD_FAILED";
extern const isc::log::MessageID FANVIL_POLICY_WARNING = "FANVIL_POLICY_WARNING";
extern const isc::log::MessageID FANVIL_PYTHON_KEPT = "FANVIL_PYTHON_KEPT";
extern const isc::log::MessageID FANVIL_UNLOADED = "FANVIL_UNLOADED";

} // namespace fanvil

namespace {

const char* values[] = {
    "FANVIL_BAD_DECISION", "%1: the policy's decision could not be used (%2), the response goes out unchanged%3",
    "FANVIL_DECIDE_FAILED", "%1: the policy's decide() failed (%2), the response goes out unchanged%3",
    "FANVIL_INVENTORY_ERROR", "the inventory of phones seen, %1, cannot be written: %2",
    "FANVIL_LOADED", "Fanvil hooks library loaded policy %1 with Python %2: %3",
    "FANVIL_LOAD_ERROR", "loading the Fanvil hooks library failed: %1",
    "FANVIL_PACKET_ERROR", "%1: processing the response failed (%2), the response goes out unchanged%3",
    "FANVIL_POLICY_INVALID", "the Fanvil policy %1 is invalid: %2",
    "FANVIL_POLICY_KEPT", "the Fanvil policy %1 is invalid, the previously loaded policy stays in force: %2",
    "FANVIL_POLICY_RELOADED", "the Fanvil policy %1 changed and is now in force: %2",
    "FANVIL_POLICY_RELOAD_FAILED", "the Fanvil policy %1 changed but cannot be used, the previous policy stays in force: %2",
    "FANVIL_POLICY_WARNING", "the Fanvil policy %1: %2",
    "FANVIL_PYTHON_KEPT", "Python was already started with %1 in this process, ignoring python=%2",
    "FANVIL_UNLOADED", "Fanvil hooks library unloaded",
    NULL
};

const isc::log::MessageInitializer initializer(values);

} // Anonymous namespace
