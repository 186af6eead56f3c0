#include "fanvil_log.h"

namespace fanvil {

isc::log::Logger fanvil_logger("fanvil-hooks");

} // namespace fanvil
