// PY_SSIZE_T_CLEAN before Python.h: length arguments are Py_ssize_t, not int.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "python_bridge.h"

#include <dlfcn.h>
#include <unistd.h>

namespace fanvil {
namespace {

// Owns one reference. Must be destroyed with the GIL held, i.e. inside a Gil scope.
class PyRef {
public:
    explicit PyRef(PyObject* o = nullptr) : o_(o) {}
    ~PyRef() { Py_XDECREF(o_); }
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    PyObject* get() const { return o_; }
    PyObject* release() { PyObject* o = o_; o_ = nullptr; return o; }
    explicit operator bool() const { return o_ != nullptr; }
private:
    PyObject* o_;
};

// One persistent PyThreadState per OS thread. PyGILState_Ensure/Release per packet creates and
// destroys a thread state each time on Kea's worker threads (measured: half the throughput).
struct ThreadState {
    PyThreadState* ts = nullptr;
    bool owned = false;  // created here, so deleted here when the thread ends
    ~ThreadState() {
        // Kea joins and re-creates its worker threads on every reconfiguration; without this
        // every dead worker would leave its thread state in the interpreter. (glibc keeps this
        // library mapped until pending thread_local destructors have run, even after dlclose.)
        if (owned && ts) {
            PyEval_RestoreThread(ts);
            PyThreadState_Clear(ts);
            PyThreadState_DeleteCurrent();
        }
    }
};
thread_local ThreadState this_thread;

// Holds the GIL for its lifetime. Never nest: the thread state is not re-entrant.
class Gil {
public:
    Gil() {
        if (!this_thread.ts) {
            // The thread's registered state first: the main thread's initial one, or a state
            // made by an earlier copy of this library (Kea dlcloses and re-dlopens hooks on
            // reconfiguration, which resets our thread_locals but not Python's).
            this_thread.ts = PyGILState_GetThisThreadState();
            if (!this_thread.ts) {
                this_thread.ts = PyThreadState_New(PyInterpreterState_Main());
                this_thread.owned = true;
            }
        }
        PyEval_RestoreThread(this_thread.ts);
    }
    ~Gil() { PyEval_SaveThread(); }
    Gil(const Gil&) = delete;
    Gil& operator=(const Gil&) = delete;
};

std::string str(PyObject* o) {
    PyRef s(PyObject_Str(o));
    const char* utf8 = s ? PyUnicode_AsUTF8(s.get()) : nullptr;
    if (!utf8) {
        PyErr_Clear();
        return "<unprintable>";
    }
    return utf8;
}

std::string typeName(PyObject* o) { return Py_TYPE(o)->tp_name; }

// Takes (and clears) the pending Python exception as "Type: message (file:line)".
std::string takeError() {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyRef t(type), v(value), b(tb);
    if (!type) return "unknown Python error";
    std::string text = reinterpret_cast<PyTypeObject*>(type)->tp_name;
    std::string msg = value ? str(value) : "";
    if (!msg.empty()) text += ": " + msg;
    // Where it was raised: the innermost frame is the useful one in a one-line log.
    PyObject* last = tb;
    while (last) {
        PyRef next(PyObject_GetAttrString(last, "tb_next"));
        if (!next || next.get() == Py_None) break;
        last = next.get();  // borrowed: kept alive by the chain from `tb`
    }
    if (last) {
        PyRef line(PyObject_GetAttrString(last, "tb_lineno"));
        PyRef frame(PyObject_GetAttrString(last, "tb_frame"));
        PyRef code(frame ? PyObject_GetAttrString(frame.get(), "f_code") : nullptr);
        PyRef file(code ? PyObject_GetAttrString(code.get(), "co_filename") : nullptr);
        if (line && file) text += " (" + str(file.get()) + ":" + str(line.get()) + ")";
    }
    PyErr_Clear();
    return text;
}

// Re-open libpython with RTLD_GLOBAL: Kea dlopens hooks RTLD_LOCAL, so the libpython this library
// links against is not visible to extension modules (pydantic-core, PyYAML) imported later,
// which then fail with undefined symbols. The extra reference also keeps libpython, and the
// interpreter living in it, mapped when Kea dlcloses this library.
void makePythonGlobal() {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void*>(&Py_IsInitialized), &info) || !info.dli_fname) {
        throw std::runtime_error("cannot locate the libpython this library is linked against");
    }
    if (!dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
        const char* err = dlerror();
        throw std::runtime_error(std::string("cannot re-open ") + info.dli_fname +
                                 " globally: " + (err ? err : "?"));
    }
}

// Starts the interpreter once per process. It is never finalised, not even on unload: Kea
// unloads and reloads hooks on every reconfiguration, and CPython cannot reliably be
// initialised again after Py_FinalizeEx (extension modules such as pydantic-core keep static
// state and may crash or refuse a second import); it would also cost a full start per reload.
void startInterpreter(const std::string& python) {
    makePythonGlobal();
    if (Py_IsInitialized()) return;
    if (access(python.c_str(), X_OK) != 0) {
        throw std::runtime_error("python " + python + " is not an executable file");
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  // signals belong to Kea
    config.parse_argv = 0;
    // Only the hook parameters decide what runs: ignore PYTHON* variables and the user site of
    // whoever started Kea (python-path replaces PYTHONPATH).
    config.use_environment = 0;
    config.user_site_directory = 0;
    // executable (and program_name, which getpath also reads) make Python find the venv's
    // pyvenv.cfg next to it, hence the venv's site-packages.
    PyStatus st = PyConfig_SetBytesString(&config, &config.executable, python.c_str());
    if (!PyStatus_Exception(st)) {
        st = PyConfig_SetBytesString(&config, &config.program_name, python.c_str());
    }
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        throw std::runtime_error(std::string("starting Python failed: ") +
                                 (st.err_msg ? st.err_msg : "unknown error"));
    }
    // Release the GIL for Kea's threads; the main thread takes it back through Gil like any other.
    PyEval_SaveThread();
}

void prependSysPath(const std::vector<std::string>& paths) {
    PyObject* sys_path = PySys_GetObject("path");  // borrowed
    if (!sys_path || !PyList_Check(sys_path)) throw std::runtime_error("sys.path is not a list");
    for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
        PyRef entry(PyUnicode_DecodeFSDefault(it->c_str()));
        if (!entry) throw std::runtime_error(takeError());
        int present = PySequence_Contains(sys_path, entry.get());
        if (present < 0 || (present == 0 && PyList_Insert(sys_path, 0, entry.get()) < 0)) {
            throw std::runtime_error(takeError());
        }
    }
}

PyRef bytesOf(const Bytes& b) {
    return PyRef(PyBytes_FromStringAndSize(reinterpret_cast<const char*>(b.data()),
                                           static_cast<Py_ssize_t>(b.size())));
}

PyRef bytesOrNone(const std::optional<Bytes>& b) {
    return b ? bytesOf(*b) : PyRef(Py_NewRef(Py_None));
}

Bytes toBytes(PyObject* o, size_t max, const char* what) {
    if (!PyBytes_Check(o)) {
        throw BadDecision(std::string(what) + " must be bytes, not " + typeName(o));
    }
    auto len = static_cast<size_t>(PyBytes_GET_SIZE(o));
    checkDecisionSize(what, len, max);
    const auto* data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(o));
    return Bytes(data, data + len);
}

// Only checks and copies: the response is touched after this succeeded as a whole.
Decision convert(PyObject* result) {
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 2) {
        throw BadDecision("decide() must return None or (options, boot_file), not " +
                          typeName(result));
    }
    Decision d;
    PyRef options(PySequence_Fast(PyTuple_GET_ITEM(result, 0), "options must be a tuple"));
    if (!options) throw BadDecision(takeError());
    Py_ssize_t n = PySequence_Fast_GET_SIZE(options.get());
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* item = PySequence_Fast_GET_ITEM(options.get(), i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            throw BadDecision("each option must be a (code, data) tuple, not " + typeName(item));
        }
        PyObject* code = PyTuple_GET_ITEM(item, 0);
        long c = PyLong_Check(code) ? PyLong_AsLong(code) : -1;
        if (!isDecisionOptionCode(c)) {
            PyErr_Clear();
            throw BadDecision("option code " + str(code) + " is not an integer in 1-254");
        }
        std::string what = "option " + std::to_string(c) + " data";
        d.options.emplace_back(static_cast<uint8_t>(c), toBytes(PyTuple_GET_ITEM(item, 1),
                                                                MAX_OPTION_DATA, what.c_str()));
    }
    PyObject* file = PyTuple_GET_ITEM(result, 1);
    if (file != Py_None) d.boot_file = toBytes(file, MAX_BOOT_FILE, "boot_file");
    return d;
}

// The Python-callable face of the LogSink. The function object handed to hook_entry.load()
// points into this library, so hook_entry.stop() must have ended every caller before unload.
LogSink current_sink = nullptr;

PyObject* logThunk(PyObject*, PyObject* args) {
    const char *kind, *path, *text;
    if (!PyArg_ParseTuple(args, "sss", &kind, &path, &text)) return nullptr;
    LogSink sink = current_sink;
    if (sink) {
        try {
            sink(kind, path, text);
        } catch (...) {
            // Logging must not turn into a Python exception in the watcher.
        }
    }
    Py_RETURN_NONE;
}

PyMethodDef log_method = {"kea_log", logThunk, METH_VARARGS,
                          "Report (kind, policy path, text) to Kea's log."};

// The packet path the Python side publishes tables to and drains records from. Like the sink,
// the function objects point into this library: stop() ends their callers before unload.
PacketPath* current_path = nullptr;

// publish(table: bytes, generation: int)
PyObject* publishThunk(PyObject*, PyObject* args) {
    Py_buffer table;
    unsigned int generation = 0;
    if (!PyArg_ParseTuple(args, "y*I:kea_publish", &table, &generation)) return nullptr;
    PacketPath* path = current_path;
    if (!path) {
        PyBuffer_Release(&table);
        PyErr_SetString(PyExc_RuntimeError, "the hook library is being unloaded");
        return nullptr;
    }
    try {
        path->publish(static_cast<const uint8_t*>(table.buf), static_cast<size_t>(table.len),
                      generation);
    } catch (const std::exception& ex) {
        PyBuffer_Release(&table);
        PyErr_SetString(PyExc_ValueError, ex.what());
        return nullptr;
    }
    PyBuffer_Release(&table);
    Py_RETURN_NONE;
}

// ([(time, mac, opt60, giaddr, yiaddr, generation, matched, url, boot, site), ...], dropped):
// the writer's whole batch in one call, so the GIL is taken once per batch and not once per
// packet. opt60 is None when absent; addresses are host-order integers; url, boot and site
// are indices into the table `generation` (0xFFFFFFFF: none); see InventoryRecord.
PyObject* drainThunk(PyObject*, PyObject*) {
    // Only the inventory writer thread calls this, with the GIL held: one reused vector.
    static std::vector<InventoryRecord> records;
    PacketPath* path = current_path;
    InventoryBuffer* buffer = path ? path->inventory() : nullptr;
    uint64_t dropped = 0;
    if (buffer) {
        dropped = buffer->drain(records);
    } else {
        records.clear();
    }
    PyRef list(PyList_New(static_cast<Py_ssize_t>(records.size())));
    if (!list) return nullptr;
    for (size_t i = 0; i < records.size(); ++i) {
        const InventoryRecord& r = records[i];
        PyObject* opt60 = r.opt60_len < 0
                              ? Py_NewRef(Py_None)
                              : PyBytes_FromStringAndSize(reinterpret_cast<const char*>(r.opt60),
                                                          r.opt60_len);
        if (!opt60) return nullptr;
        PyObject* item = Py_BuildValue(
            "(dy#NIIIBIII)", r.time, reinterpret_cast<const char*>(r.mac),
            static_cast<Py_ssize_t>(r.mac_len), opt60, r.giaddr, r.yiaddr, r.generation,
            static_cast<unsigned char>(r.matched), r.url, r.boot, r.site);
        if (!item) return nullptr;
        PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), item);  // steals
    }
    records.clear();
    return Py_BuildValue("(NK)", list.release(), static_cast<unsigned long long>(dropped));
}

// evaluate(mac: bytes, opt60: bytes | None, opt55: bytes | None, giaddr: int, yiaddr: int)
// -> None | (generation, matched, url, boot, site, ((code, data), ...), file field or None)
PyObject* evaluateThunk(PyObject*, PyObject* args) {
    Py_buffer mac;
    PyObject* opt60 = nullptr;
    PyObject* opt55 = nullptr;
    unsigned int giaddr = 0, yiaddr = 0;
    if (!PyArg_ParseTuple(args, "y*OOII:kea_evaluate", &mac, &opt60, &opt55, &giaddr, &yiaddr)) {
        return nullptr;
    }
    struct Release {
        Py_buffer* b;
        ~Release() { PyBuffer_Release(b); }
    } release{&mac};
    auto span = [](PyObject* o, ByteSpan& out) {
        if (o == Py_None) return true;
        if (!PyBytes_Check(o)) {
            PyErr_SetString(PyExc_TypeError, "options 60 and 55 are bytes or None");
            return false;
        }
        static const uint8_t empty = 0;
        out = {PyBytes_GET_SIZE(o) ? reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(o))
                                   : &empty,
               static_cast<size_t>(PyBytes_GET_SIZE(o))};
        return true;
    };
    TableRequest request;
    request.mac = {static_cast<const uint8_t*>(mac.buf), static_cast<size_t>(mac.len)};
    if (!span(opt60, request.vendor_class) || !span(opt55, request.prl)) return nullptr;
    request.giaddr = giaddr;
    request.yiaddr = yiaddr;
    PacketPath* path = current_path;
    if (!path) {
        PyErr_SetString(PyExc_RuntimeError, "the hook library is being unloaded");
        return nullptr;
    }
    PyObject* result = nullptr;
    bool failed = false;
    try {
        path->evaluate(request, [&](const TableDecision& d, uint32_t generation) {
            PyRef options(PyTuple_New(static_cast<Py_ssize_t>(d.count)));
            if (!options) {
                failed = true;
                return;
            }
            for (size_t i = 0; i < d.count; ++i) {
                PyObject* item = Py_BuildValue("(By#)", d.options[i].code,
                                               reinterpret_cast<const char*>(d.options[i].data),
                                               static_cast<Py_ssize_t>(d.options[i].size));
                if (!item) {
                    failed = true;
                    return;
                }
                PyTuple_SET_ITEM(options.get(), static_cast<Py_ssize_t>(i), item);  // steals
            }
            PyObject* file = d.has_file
                                 ? PyBytes_FromStringAndSize(
                                       reinterpret_cast<const char*>(d.file.data),
                                       static_cast<Py_ssize_t>(d.file.size))
                                 : Py_NewRef(Py_None);
            if (!file) {
                failed = true;
                return;
            }
            result = Py_BuildValue("(IBIIINN)", generation, static_cast<unsigned char>(d.matched),
                                   d.url, d.boot, d.site, options.release(), file);
            failed = result == nullptr;
        });
    } catch (const std::exception& ex) {
        Py_XDECREF(result);
        PyErr_SetString(PyExc_RuntimeError, ex.what());
        return nullptr;
    }
    if (failed) return nullptr;
    return result ? result : Py_NewRef(Py_None);
}

PyMethodDef evaluate_method = {"kea_evaluate", evaluateThunk, METH_VARARGS,
                               "Decide with the hook's table in force (fanvil-decide)."};
PyMethodDef publish_method = {"kea_publish", publishThunk, METH_VARARGS,
                              "Hand the hook a decision table (bytes) and its generation."};
PyMethodDef drain_method = {"kea_drain", drainThunk, METH_NOARGS,
                            "Take the inventory records the hook buffered, and the drop count."};

} // namespace

PythonPolicy::PythonPolicy(const std::string& python, const std::vector<std::string>& extra_paths,
                           const std::string& policy_path, double reload_interval,
                           const std::optional<std::string>& inventory, LogSink sink,
                           PacketPath* packet_path, const std::string& server_name) {
    startInterpreter(python);
    Gil gil;
    prependSysPath(extra_paths);
    executable_ = str(PySys_GetObject("executable"));
    // Imported once per process; a reload only calls load() again with the (new) policy.
    PyRef module(PyImport_ImportModule("kea_fanvil.kea_hook.entry"));
    if (!module) {
        throw std::runtime_error("cannot import kea_fanvil.kea_hook.entry with " + executable_ +
                                 ": " + takeError());
    }
    PyRef load(PyObject_GetAttrString(module.get(), "load"));
    PyRef decide(PyObject_GetAttrString(module.get(), "decide"));
    PyRef stop(PyObject_GetAttrString(module.get(), "stop"));
    if (!load || !decide || !stop || !PyCallable_Check(load.get()) ||
        !PyCallable_Check(decide.get()) || !PyCallable_Check(stop.get())) {
        PyErr_Clear();
        throw std::runtime_error("kea_fanvil.kea_hook.entry lacks load(), decide() or stop()");
    }
    auto optional = [&](const char* name) -> PyObject* {
        PyObject* fn = PyObject_GetAttrString(module.get(), name);
        if (!fn || !PyCallable_Check(fn)) {
            PyErr_Clear();
            Py_XDECREF(fn);
            return nullptr;
        }
        return fn;
    };
    PyRef start(optional("start")), pause(optional("pause")), resume(optional("resume")),
        command(optional("command"));
    current_sink = sink;
    PyRef log(PyCFunction_New(&log_method, nullptr));
    PyRef path(PyUnicode_DecodeFSDefault(policy_path.c_str()));
    PyRef interval(PyFloat_FromDouble(reload_interval));
    PyRef db(inventory ? PyUnicode_DecodeFSDefault(inventory->c_str()) : Py_NewRef(Py_None));
    if (!log || !path || !interval || !db) throw std::runtime_error(takeError());
    // Any throw below leaves no pointer to the half-made packet path behind.
    struct ForgetPath {
        bool armed = true;
        ~ForgetPath() { if (armed) current_path = nullptr; }
    } forget_path;
    PyRef args(PyTuple_Pack(4, path.get(), interval.get(), log.get(), db.get()));
    PyRef kwargs(PyDict_New());
    if (!args || !kwargs) throw std::runtime_error(takeError());
    if (start && PyDict_SetItemString(kwargs.get(), "threads", Py_False) < 0) {
        throw std::runtime_error(takeError());  // the threads wait for startThreads()
    }
    if (!server_name.empty()) {  // only when set: an entry module of one's own may not take it
        PyRef name(PyUnicode_DecodeFSDefault(server_name.c_str()));
        if (!name || PyDict_SetItemString(kwargs.get(), "server_name", name.get()) < 0) {
            throw std::runtime_error(takeError());
        }
    }
    if (packet_path) {
        // Set before load(): it publishes the first table from inside the call.
        current_path = packet_path;
        PyRef publish(PyCFunction_New(&publish_method, nullptr));
        if (!publish || PyDict_SetItemString(kwargs.get(), "publish", publish.get()) < 0) {
            throw std::runtime_error(takeError());
        }
        if (command) {
            PyRef evaluate(PyCFunction_New(&evaluate_method, nullptr));
            if (!evaluate || PyDict_SetItemString(kwargs.get(), "evaluate", evaluate.get()) < 0) {
                throw std::runtime_error(takeError());
            }
        }
        if (packet_path->inventory()) {
            PyRef drain(PyCFunction_New(&drain_method, nullptr));
            if (!drain || PyDict_SetItemString(kwargs.get(), "drain", drain.get()) < 0) {
                throw std::runtime_error(takeError());
            }
        }
    }
    PyRef result(PyObject_Call(load.get(), args.get(), kwargs.get()));
    if (!result) throw std::runtime_error("hook_entry.load() raised " + takeError());
    const char* outcome = nullptr;
    const char* text = nullptr;
    if (!PyArg_ParseTuple(result.get(), "ss", &outcome, &text)) {
        PyErr_Clear();
        throw std::runtime_error("hook_entry.load() returned " + typeName(result.get()) +
                                 ", not (outcome, text)");
    }
    detail_ = text;
    const std::string how = outcome;
    if (how == "invalid") throw PolicyInvalid(detail_);
    if (how != "loaded" && how != "kept") {
        PyRef stopped(PyObject_CallNoArgs(stop.get()));  // a watcher must not outlive us
        PyErr_Clear();
        throw std::runtime_error("hook_entry.load() returned the unknown outcome " + how);
    }
    kept_ = how == "kept";
    forget_path.armed = false;
    decide_ = decide.release();
    stop_ = stop.release();
    start_ = start.release();
    pause_ = pause.release();
    resume_ = resume.release();
    command_ = command.release();
}

PythonPolicy::~PythonPolicy() {
    if (!decide_) {
        current_path = nullptr;
        return;
    }
    Gil gil;
    if (stop_) {
        PyRef done(PyObject_CallNoArgs(stop_));
        if (!done) PyErr_Clear();  // nothing to report to from a destructor
        Py_DECREF(stop_);
    }
    current_path = nullptr;  // after stop(): no Python thread can call publish or drain now
    Py_DECREF(decide_);
    Py_XDECREF(start_);
    Py_XDECREF(pause_);
    Py_XDECREF(resume_);
    Py_XDECREF(command_);
}

void PythonPolicy::callQuietly(PyObject* fn) const {
    if (!fn) return;
    Gil gil;
    PyRef done(PyObject_CallNoArgs(fn));
    if (!done) PyErr_Clear();  // entry's functions never raise; nothing to report to here
}

void PythonPolicy::startThreads() { callQuietly(start_); }
void PythonPolicy::pauseThreads() { callQuietly(pause_); }
void PythonPolicy::resumeThreads() { callQuietly(resume_); }

CommandAnswer PythonPolicy::command(const std::string& name, const std::string& arguments) const {
    CommandAnswer answer;
    if (!command_) {
        answer.text = name + ": not supported by this kea_fanvil.kea_hook.entry module";
        return answer;
    }
    Gil gil;
    PyRef result(PyObject_CallFunction(command_, "s#s#", name.data(),
                                       static_cast<Py_ssize_t>(name.size()), arguments.data(),
                                       static_cast<Py_ssize_t>(arguments.size())));
    int code = 1;
    const char* text = nullptr;
    const char* body = nullptr;
    if (!result || !PyArg_ParseTuple(result.get(), "iss", &code, &text, &body)) {
        answer.text = name + ": the Python side failed: " + takeError();
        return answer;
    }
    answer.result = code;
    answer.text = text;
    answer.arguments = body;
    return answer;
}

std::optional<Decision> PythonPolicy::decide(const Request& r) const {
    Gil gil;
    PyRef mac(bytesOf(r.mac)), opt60(bytesOrNone(r.opt60)), opt55(bytesOrNone(r.opt55));
    PyRef giaddr(bytesOf(r.giaddr)), yiaddr(bytesOf(r.yiaddr));
    if (!mac || !opt60 || !opt55 || !giaddr || !yiaddr) throw PythonError(takeError());
    PyRef result(PyObject_CallFunctionObjArgs(decide_, mac.get(), opt60.get(), opt55.get(),
                                              giaddr.get(), yiaddr.get(), nullptr));
    if (!result) throw PythonError(takeError());
    if (result.get() == Py_None) return std::nullopt;
    return convert(result.get());
}

} // namespace fanvil
