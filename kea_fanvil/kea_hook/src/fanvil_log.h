// Logger of the kea-fanvil hook library (shows up in Kea's logging as kea-dhcp4.fanvil-hooks).
#ifndef FANVIL_LOG_H
#define FANVIL_LOG_H

#include <log/logger.h>
#include <log/macros.h>

#include "fanvil_messages.h"

namespace fanvil {

extern isc::log::Logger fanvil_logger;

} // namespace fanvil

#endif // FANVIL_LOG_H
