// Registers llama.cpp RPC workers (ggml's RPC backend) in the llama.cpp that node-llama-cpp loaded into
// this process, before a model loads, so llama.cpp's default device selection splits the model's
// layers across them (what llama-server's `--rpc` does). node-llama-cpp has no call for this.
//
// It links against no ggml library: the functions are looked up in the very libraries node-llama-cpp's
// binding already loaded (dlopen with RTLD_NOLOAD on that binding, then dlsym, which searches the binding
// and its dependencies), so there is exactly one ggml registry in the process and ours is it.
#include <dlfcn.h>
#include <node_api.h>

#include <string>
#include <vector>

#include "ggml-backend.h"

namespace {

struct Ggml {
    decltype(&ggml_backend_reg_by_name) reg_by_name;
    decltype(&ggml_backend_reg_get_proc_address) reg_get_proc_address;
    decltype(&ggml_backend_register) reg_register;
    decltype(&ggml_backend_reg_name) reg_name;
    decltype(&ggml_backend_dev_count) dev_count;
    decltype(&ggml_backend_dev_get) dev_get;
    decltype(&ggml_backend_dev_backend_reg) dev_backend_reg;
    decltype(&ggml_backend_dev_name) dev_name;
    decltype(&ggml_backend_dev_description) dev_description;
    decltype(&ggml_backend_dev_memory) dev_memory;
};

typedef ggml_backend_reg_t (*rpc_add_server_t)(const char * endpoint);

napi_value fail(napi_env env, const std::string & message) {
    napi_throw_error(env, nullptr, message.c_str());
    return nullptr;
}

bool get_string(napi_env env, napi_value value, std::string & out) {
    size_t length = 0;
    if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
    out.resize(length);
    return napi_get_value_string_utf8(env, value, out.data(), length + 1, &length) == napi_ok;
}

// The ggml of the binding at `binding_path`, which must already be loaded in this process.
bool resolve(const std::string & binding_path, Ggml & g, std::string & error) {
    void * handle = dlopen(binding_path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) {
        error = "node-llama-cpp's binding " + binding_path + " is not loaded in this process";
        return false;
    }
    // dlopen with RTLD_NOLOAD only took a reference to the loaded binding; keep it: the binding stays loaded.
    void * symbols[] = {
        dlsym(handle, "ggml_backend_reg_by_name"), dlsym(handle, "ggml_backend_reg_get_proc_address"),
        dlsym(handle, "ggml_backend_register"), dlsym(handle, "ggml_backend_reg_name"),
        dlsym(handle, "ggml_backend_dev_count"), dlsym(handle, "ggml_backend_dev_get"),
        dlsym(handle, "ggml_backend_dev_backend_reg"), dlsym(handle, "ggml_backend_dev_name"),
        dlsym(handle, "ggml_backend_dev_description"), dlsym(handle, "ggml_backend_dev_memory"),
    };
    for (void * symbol : symbols) {
        if (symbol == nullptr) {
            error = "the binding's ggml lacks the ggml_backend_* registry functions (another ggml version?)";
            return false;
        }
    }
    g.reg_by_name = (decltype(g.reg_by_name)) symbols[0];
    g.reg_get_proc_address = (decltype(g.reg_get_proc_address)) symbols[1];
    g.reg_register = (decltype(g.reg_register)) symbols[2];
    g.reg_name = (decltype(g.reg_name)) symbols[3];
    g.dev_count = (decltype(g.dev_count)) symbols[4];
    g.dev_get = (decltype(g.dev_get)) symbols[5];
    g.dev_backend_reg = (decltype(g.dev_backend_reg)) symbols[6];
    g.dev_name = (decltype(g.dev_name)) symbols[7];
    g.dev_description = (decltype(g.dev_description)) symbols[8];
    g.dev_memory = (decltype(g.dev_memory)) symbols[9];
    return true;
}

napi_value make_device(napi_env env, const Ggml & g, ggml_backend_dev_t dev) {
    size_t free = 0, total = 0;
    g.dev_memory(dev, &free, &total);
    napi_value object, name, description, free_bytes, total_bytes;
    napi_create_object(env, &object);
    napi_create_string_utf8(env, g.dev_name(dev), NAPI_AUTO_LENGTH, &name);
    napi_create_string_utf8(env, g.dev_description(dev), NAPI_AUTO_LENGTH, &description);
    napi_create_double(env, (double) free, &free_bytes);
    napi_create_double(env, (double) total, &total_bytes);
    napi_set_named_property(env, object, "name", name);
    napi_set_named_property(env, object, "endpoint", description);
    napi_set_named_property(env, object, "freeBytes", free_bytes);
    napi_set_named_property(env, object, "totalBytes", total_bytes);
    return object;
}

// Every RPC device registered in the process, with its memory now (one round trip to its worker each).
napi_value list_devices(napi_env env, const Ggml & g) {
    napi_value result;
    napi_create_array(env, &result);
    uint32_t index = 0;
    for (size_t i = 0; i < g.dev_count(); i++) {
        ggml_backend_dev_t dev = g.dev_get(i);
        if (std::string(g.reg_name(g.dev_backend_reg(dev))) != "RPC") continue;
        napi_set_element(env, result, index++, make_device(env, g, dev));
    }
    return result;
}

// addServer(bindingPath, endpoint): registers the worker at `endpoint` (host:port), which must answer:
// ggml aborts the process when it cannot connect, so the caller probes it first. Returns every RPC device.
napi_value add_server(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    std::string binding_path, endpoint, error;
    if (argc < 2 || !get_string(env, argv[0], binding_path) || !get_string(env, argv[1], endpoint)) {
        return fail(env, "addServer(bindingPath, endpoint) takes two strings");
    }
    Ggml g;
    if (!resolve(binding_path, g, error)) return fail(env, error);
    ggml_backend_reg_t rpc = g.reg_by_name("RPC");
    if (rpc == nullptr) return fail(env, "this llama.cpp build has no RPC backend");
    auto add = (rpc_add_server_t) g.reg_get_proc_address(rpc, "ggml_backend_rpc_add_server");
    if (add == nullptr) return fail(env, "this llama.cpp build's RPC backend cannot add servers");
    // Registering twice would list the worker's devices twice; ggml returns the same reg for one endpoint.
    bool known = false;
    for (size_t i = 0; i < g.dev_count() && !known; i++) {
        ggml_backend_dev_t dev = g.dev_get(i);
        known = std::string(g.reg_name(g.dev_backend_reg(dev))) == "RPC" && endpoint == g.dev_description(dev);
    }
    if (!known) {
        ggml_backend_reg_t reg = add(endpoint.c_str());
        if (reg == nullptr) return fail(env, "worker " + endpoint + " offers no device");
        g.reg_register(reg);
    }
    return list_devices(env, g);
}

// devices(bindingPath): every RPC device registered in the process, with its memory now.
napi_value devices(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    std::string binding_path, error;
    if (argc < 1 || !get_string(env, argv[0], binding_path)) return fail(env, "devices(bindingPath) takes a string");
    Ggml g;
    if (!resolve(binding_path, g, error)) return fail(env, error);
    return list_devices(env, g);
}

napi_value init(napi_env env, napi_value exports) {
    napi_property_descriptor properties[] = {
        {"addServer", nullptr, add_server, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"devices", nullptr, devices, nullptr, nullptr, nullptr, napi_default, nullptr},
    };
    napi_define_properties(env, exports, 2, properties);
    return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
