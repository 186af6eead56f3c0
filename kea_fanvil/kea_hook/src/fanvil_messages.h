// File created from fanvil_messages.mes

#ifndef FANVIL_MESSAGES_H
#define FANVIL_MESSAGES_H

#include <log/message_types.h>

namespace fanvil {

extern const isc::log::MessageID FANVIL_BAD_DECISION;
extern const isc::log::MessageID FANVIL_DECIDE_FAILED;
extern const isc::log::MessageID FANVIL_INVENTORY_ERROR;
extern const isc::log::MessageID FANVIL_LOADED;
extern const isc::log::MessageID FANVIL_LOAD_ERROR;
extern const isc::log::MessageID FANVIL_PACKET_ERROR;
extern const isc::log::MessageID FANVIL_POLICY_INVALID;
extern const isc::log::MessageID FANVIL_POLICY_KEPT;
extern const isc::log::MessageID FANVIL_POLICY_RELOADED;
extern const isc::log::MessageID FANVIL_POLICY_RELOAD_FAILED;
extern const isc::log::MessageID FANVIL_POLICY_WARNING;
extern const isc::log::MessageID FANVIL_PYTHON_KEPT;
extern const isc::log::MessageID FANVIL_UNLOADED;

} // namespace fanvil

#endif // FANVIL_MESSAGES_H
