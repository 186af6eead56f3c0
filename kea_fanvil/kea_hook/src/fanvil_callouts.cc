// Entry points of the kea-fanvil hook library for kea-dhcp4: unpack Kea's handles and hand off
// to FanvilImpl. Modelled on Kea's flex_option hook.
//
// Built and wire-tested against Kea 2.2.0 (bookworm), 2.6.3 (trixie) and 3.0.4 (forky). What
// differs between them, and how this code meets it (2.4 is in no Debian release; where it is
// named, the side it is on comes from Kea's ChangeLog):
// - version() returns KEA_HOOKS_VERSION of the headers built against (20200, 20603, 30004:
//   the release's own number, patch included), and Kea refuses any other: the library is
//   built on the target, against its kea-dev.
// - Linking: 3.0 renamed libkea-dhcp++ to libkea-dhcp (the Makefile picks what is installed).
// - Multi-threading is on by default from 2.4 (2.2: off unless enable-multi-threading); a
//   library without multi_threading_compatible() returning 1 is then refused.
// - pkt4_send's arguments: 2.6 added "subnet4" (a ConstSubnet4Ptr in 3.0); only "query4" and
//   "response4" are read here, Pkt4Ptr in every version, so nothing changes.
// - Client classes (Pkt::addClass/getClasses, split in 3.0) and Element type numbers
//   (renumbered in 2.4, types named, never numbered, here) are not touched by this code.
// - Option data over 255 bytes: Pkt4::pack splits it into several options of one code
//   (RFC 3396) in all three (ChangeLog 2018, 2.1.6; checked on the wire by
//   integration/test_long_options_wire.py); python_bridge.cc still caps a decision's option at
//   255 bytes, since a phone reading one option is what the spec describes.
// - Kea 2.6.3 and later load hooks only from Kea's hooks directory: `kea-fanvil hook install`.

#include <cc/command_interpreter.h>
#include <dhcp/pkt4.h>
#include <exceptions/exceptions.h>
#include <hooks/hooks.h>
#include <process/daemon.h>
#include <util/multi_threading_mgr.h>

#include "fanvil_impl.h"
#include "fanvil_log.h"

// A constant, not a macro, in every version (hooks/hooks.h), so checked by the compiler.
static_assert(KEA_HOOKS_VERSION >= 20200, "kea-fanvil's hook needs Kea 2.2 or later");

using namespace isc::dhcp;
using namespace isc::hooks;

namespace fanvil {
FanvilImplPtr impl;  // null while not loaded

namespace {

// The control commands this library answers (kea_fanvil/kea_hook/commands.py). Kea runs
// command callouts on its main thread, as it runs load(), unload() and the critical-section
// callbacks, so `impl` cannot change under one.
const char* const COMMANDS[] = {"fanvil-status", "fanvil-decide", "fanvil-policy-reload",
                                "fanvil-devices-get"};
const char* const CRITICAL_SECTION = "kea-fanvil";

int answerCommand(isc::hooks::CalloutHandle& handle) {
    isc::data::ConstElementPtr response;
    try {
        isc::data::ConstElementPtr command;
        handle.getArgument("command", command);
        isc::data::ConstElementPtr arguments;
        std::string name = isc::config::parseCommand(arguments, command);
        response = impl ? impl->command(name, arguments)
                        : isc::config::createAnswer(isc::config::CONTROL_RESULT_ERROR,
                                                    "kea-fanvil is not loaded");
    } catch (const std::exception& ex) {
        response = isc::config::createAnswer(isc::config::CONTROL_RESULT_ERROR,
                                             std::string("kea-fanvil: ") + ex.what());
    }
    handle.setArgument("response", response);
    return (0);
}

} // namespace
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
        for (const char* name : COMMANDS) {
            handle.registerCommandCallout(name, answerCommand);
        }
        // As Kea's own hooks (ha, perfmon): background threads pause while Kea reconfigures
        // (config-set, config-reload: a critical section), so that neither a reload nor an
        // inventory batch runs beside it. The callbacks exist from Kea 2.2 on, same signature
        // in 2.2, 2.6 and 3.0 (util/multi_threading_mgr.h); Kea calls them only with
        // multi-threading on.
        isc::util::MultiThreadingMgr::instance().addCriticalSectionCallbacks(
            CRITICAL_SECTION, [] {},
            [] {
                if (impl) impl->pauseThreads();
            },
            [] {
                if (impl) impl->resumeThreads();
            });
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
    isc::util::MultiThreadingMgr::instance().removeCriticalSectionCallbacks(CRITICAL_SECTION);
    impl.reset();
    LOG_INFO(fanvil_logger, FANVIL_UNLOADED);
    return (0);
}

// Kea is configured (at start and after every reconfiguration): the Python side's threads
// start here, as Kea's own hooks start theirs, not in load(), which also runs for a
// configuration that is then rejected.
int dhcp4_srv_configured(CalloutHandle&) {
    if (impl) impl->startThreads();
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
