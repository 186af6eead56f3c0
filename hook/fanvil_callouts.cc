// Entry points of the kea-fanvil hook library for kea-dhcp4: unpack Kea's handles and hand off
// to FanvilImpl. Modelled on Kea's flex_option hook.
//
// Written against Kea 2.2 (KEA_HOOKS_VERSION 20200). Differences with Kea 2.4-2.6 to mind:
// - version() must return the KEA_HOOKS_VERSION of the exact running release (20200 here; it
//   changes with every release, e.g. 20400 for 2.4.0): rebuild against the target's kea-dev.
// - Multi-threading is on by default from 2.4; a library without multi_threading_compatible()
//   returning 1 is then refused. In 2.2 it is off unless "enable-multi-threading" is set.
// - Pkt4::getHWAddr() (chaddr) and Daemon::getProcName() are unchanged through 2.6.
// - Kea 2.4 added RFC 3396 long-option splitting, so the 255-byte limit on option data
//   enforced in python_bridge.cc is a 2.2 limitation only.
// - Recent security releases (2.6.3 and later) load hooks only from Kea's own hooks
//   directory; with those, install libdhcp_fanvil.so there instead of pointing at hook/build.

#include <dhcp/pkt4.h>
#include <exceptions/exceptions.h>
#include <hooks/hooks.h>
#include <process/daemon.h>

#include "fanvil_impl.h"
#include "fanvil_log.h"

using namespace isc::dhcp;
using namespace isc::hooks;

namespace fanvil {
FanvilImplPtr impl;  // null while not loaded
} // namespace fanvil

using namespace fanvil;

extern "C" {

int version() {
    return (KEA_HOOKS_VERSION);
}

int multi_threading_compatible() {
    // The Python calls take the GIL on a per-thread state; FanvilImpl's own state is mutex
    // guarded or read-only after load().
    return (1);
}

int load(LibraryHandle& handle) {
    std::string policy = "?";
    try {
        const std::string proc_name = isc::process::Daemon::getProcName();
        if (proc_name != "kea-dhcp4") {
            isc_throw(isc::Unexpected, "bad process name: " << proc_name
                      << ", expected kea-dhcp4");
        }
        Config config = Config::parse(handle.getParameters());
        policy = config.policy;
        impl.reset(new FanvilImpl(config));
        if (impl->pythonExecutable() != config.python) {
            LOG_WARN(fanvil_logger, FANVIL_PYTHON_KEPT)
                .arg(impl->pythonExecutable()).arg(config.python);
        }
        if (impl->keptPrevious()) {
            // Loading anyway keeps Kea serving: refusing here would leave Kea 2.2 with no
            // configuration at all after a config-reload (DHCP4_CONFIG_UNRECOVERABLE_ERROR).
            LOG_ERROR(fanvil_logger, FANVIL_POLICY_KEPT).arg(policy).arg(impl->policyDetail());
        } else {
            LOG_INFO(fanvil_logger, FANVIL_LOADED)
                .arg(policy).arg(impl->pythonExecutable()).arg(impl->policyDetail());
        }
    } catch (const PolicyInvalid& ex) {
        LOG_ERROR(fanvil_logger, FANVIL_POLICY_INVALID).arg(policy).arg(ex.what());
        impl.reset();
        return (1);
    } catch (const std::exception& ex) {
        LOG_ERROR(fanvil_logger, FANVIL_LOAD_ERROR).arg(ex.what());
        impl.reset();
        return (1);
    }
    return (0);
}

int unload() {
    // Stops the policy watcher and drops the policy's Python references; the interpreter
    // itself, with the loaded policy as the fallback for the next load, stays (python_bridge.cc).
    impl.reset();
    LOG_INFO(fanvil_logger, FANVIL_UNLOADED);
    return (0);
}

int pkt4_send(CalloutHandle& handle) {
    // DROP: the response will not be sent. SKIP: another library already packed it, so
    // changing options now would not reach the wire.
    CalloutHandle::CalloutNextStep status = handle.getStatus();
    if (status == CalloutHandle::NEXT_STEP_DROP || status == CalloutHandle::NEXT_STEP_SKIP) {
        return (0);
    }
    if (!impl) {
        return (0);
    }
    try {
        Pkt4Ptr query;
        Pkt4Ptr response;
        handle.getArgument("query4", query);
        handle.getArgument("response4", response);
        if (query && response) {
            impl->process(query, response);  // never throws by itself
        }
    } catch (...) {
        // getArgument can throw (no such argument, wrong type); a callout must return 0.
    }
    return (0);
}

} // extern "C"
