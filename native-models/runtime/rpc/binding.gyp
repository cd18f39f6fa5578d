{
    "variables": {
        "ggml_include%": "../../../node_modules/node-llama-cpp/llama/llama.cpp/ggml/include"
    },
    "targets": [
        {
            "target_name": "presage_rpc",
            "sources": ["presage-rpc.cc"],
            "include_dirs": ["<(ggml_include)"],
            "defines": ["NAPI_VERSION=8"],
            "cflags_cc": ["-std=c++17"],
            "libraries": ["-ldl"]
        }
    ]
}
